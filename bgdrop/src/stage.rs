//! Per-thread staging, the hand-off's fast path.
//!
//! A queue that every caller and every worker touch costs the caller a cache-line
//! transfer per value whenever a worker is reading it: the slot and the index the
//! worker last read live in the worker's cache. Instead, each thread that hands values
//! to a pool gets a *stage* for that pool: a buffer of up to [`STAGE_LEN`] values
//! behind a lock that, in the steady state, only that thread takes. A full stage goes
//! to the queue as one message (one transfer for [`STAGE_LEN`] values, and the buffer
//! comes back to be reused, so the caller does not allocate). A stage that is not full
//! is taken by the workers themselves ([`Stages::sweep`]): before every sleep of an
//! idle worker, at least every [`SWEEP_EVERY`] while they are busy, for every flush,
//! and at shutdown. A staged value therefore never waits for its thread to hand over
//! more.
//!
//! Under [`FullPolicy::DropInline`](crate::FullPolicy::DropInline) the pool's capacity
//! counts values, staged or queued, as it did before stages existed: a stage reserves
//! room from a shared budget for up to a stage's worth of values at a time (one
//! read-modify-write of the shared counter per stage, not per value), and a worker
//! gives each value's room back when it takes the value. Room that a stage reserved
//! and did not use goes back when a worker sweeps it. `FullPolicy::Block` does not
//! stage (a caller that waits for room waits for one value's room, in the queue);
//! `FullPolicy::Grow` stages without a budget.

use crate::raw::{Erased, SpinLock, push_erased, put_erased};
use crate::sync::channel::{self, Receiver, Sender};
use crate::sync::time::Duration;
use crate::sync::{Arc, AtomicBool, AtomicUsize, Mutex, Ordering, lock};
use crate::worker::{Msg, Padded};
use std::cell::RefCell;

/// Values a stage holds before it goes to the queue as one message. Under loom, 2: the
/// models then see both a stage shipped full and one taken by a sweep.
pub(crate) const STAGE_LEN: usize = if cfg!(loom) { 2 } else { 128 };

/// How often busy workers take partly filled stages: the longest a staged value waits
/// while other threads keep the workers busy.
pub(crate) const SWEEP_EVERY: Duration = Duration::from_millis(1);

/// Pools one thread keeps a stage for; values for further pools go to the queue one at
/// a time.
const MAX_STAGES: usize = 4;

/// Spare stage buffers a pool keeps at most (a couple of KiB each).
const MAX_SPARES: usize = if cfg!(loom) { 2 } else { 64 };

crate::sync::thread_local! {
    /// This thread's stages, by pool (the address of its `Shared`), most recently
    /// added first.
    static MINE: RefCell<Mine> = const { RefCell::new(Mine::new()) };
}

/// A thread's stages, held in the thread-local itself rather than behind a pointer:
/// the hand-off finds its stage without a dependent load from another cache line
/// (after a pause, each such line is a miss on the caller's path).
struct Mine {
    /// Entries in use, all at the front of `entries`.
    len: usize,
    entries: [Option<(usize, Arc<Stage>)>; MAX_STAGES],
}

impl Mine {
    const fn new() -> Self {
        Mine {
            len: 0,
            entries: [const { None }; MAX_STAGES],
        }
    }

    #[inline]
    fn first(&self) -> Option<&(usize, Arc<Stage>)> {
        self.entries[0].as_ref()
    }

    /// The stage of `pool`, moved to the front.
    fn bring_forward(&mut self, pool: usize) -> Option<&Arc<Stage>> {
        let at = self.entries[..self.len]
            .iter()
            .position(|e| e.as_ref().is_some_and(|(id, _)| *id == pool))?;
        self.entries.swap(0, at);
        self.first().map(|(_, stage)| stage)
    }

    /// Forgets the first stage.
    fn remove_first(&mut self) {
        if self.len != 0 {
            self.entries[0] = None;
            self.entries[..self.len].rotate_left(1);
            self.len -= 1;
        }
    }

    /// Adds a stage at the front; there must be room.
    fn insert_first(&mut self, pool: usize, stage: Arc<Stage>) -> &Arc<Stage> {
        debug_assert!(self.len < MAX_STAGES);
        self.entries[..=self.len].rotate_right(1);
        self.len += 1;
        &self.entries[0].insert((pool, stage)).1
    }

    /// Forgets the stages for which `keep` is false, keeping the others in order.
    fn retain(&mut self, keep: impl Fn(&Stage) -> bool) {
        let mut kept = 0;
        for i in 0..self.len {
            if self.entries[i]
                .as_ref()
                .is_some_and(|(_, stage)| keep(stage))
            {
                self.entries.swap(i, kept);
                kept += 1;
            } else {
                self.entries[i] = None;
            }
        }
        self.len = kept;
    }
}

/// One thread's buffer for one pool, aligned to a 128-byte block (a pair of lines
/// that the caller's cache may fetch together). The lock and its state fill the
/// first block; `len`, `staged` and the fields of `Builder::follow_caller_cpu` begin
/// the second, so a lone value's hand-off touches lines of both. Putting all it
/// touches in the first block made no difference that eight alternations of
/// `TAILS_ONLY=sparse` could see (`benches/RESULTS.md`, tenth session).
#[repr(align(128))]
pub(crate) struct Stage {
    state: SpinLock<StageState>,
    /// Values per stage ([`Stages`]' length, copied here so that a hand-off reads it
    /// on a line it touches anyway).
    len: usize,
    /// How many values the stage holds, as last written under the lock: lets a sweep
    /// pass an empty stage by reading it, without taking the lock. Taking the lock
    /// would leave the line modified in the worker's cache, and the stage's thread
    /// would then pay a transfer of it on its next value.
    staged: AtomicUsize,
    /// Messages of this stage's values in the queue, not yet taken by a worker. A
    /// worker's sweep leaves the stage alone while there are any, so that with one
    /// worker a thread's values are dropped in the order it handed them over (the
    /// staged values are newer than those in the queue).
    pub(crate) in_flight: AtomicUsize,
    /// With `Builder::follow_caller_cpu`: the CPU this stage's thread ran on at its
    /// last hand-off ([`NO_CPU`] if unknown), where a worker goes to take its values.
    /// A hint, never a condition: a std atomic even under loom.
    pub(crate) cpu: std::sync::atomic::AtomicU32,
    /// With `Builder::follow_caller_cpu`: values this stage's thread drops itself
    /// before it stages one again, set by a worker that had to wait long for the
    /// thread's CPU (see [`Stage::waited`]). A std atomic even under loom, like `cpu`.
    refuse: std::sync::atomic::AtomicU32,
    /// With `Builder::follow_caller_cpu`: values of this stage that workers take
    /// where they are, without moving to `cpu`, set by a worker that had to wait long
    /// for that CPU while the thread was asleep, i.e. while other threads kept the CPU
    /// busy (see [`Stage::waited`]).
    roam: std::sync::atomic::AtomicU32,
    /// The next refusal's or roam's length, doubled by each long wait in a row;
    /// written by workers only.
    refusal: std::sync::atomic::AtomicU32,
    /// With `Builder::follow_caller_cpu`: set when the thread dropped a value itself
    /// because it had not blocked since its previous one, cleared by the workers'
    /// next sweep ([`Stages::recheck`]). Until then the thread drops its values
    /// without reading its count again, so that a burst costs one system call, not
    /// one per value. A hint, never a condition: a std atomic even under loom.
    unblocked: std::sync::atomic::AtomicBool,
    /// With `Builder::follow_caller_cpu`: the Linux thread id of the stage's thread
    /// (0 if unknown), whose state tells a worker why it had to wait for its CPU.
    tid: u32,
}

/// [`Stage::cpu`] before any hand-off, or where the CPU is unknown.
pub(crate) const NO_CPU: u32 = u32::MAX;

/// A worker that waited longer than this for a stage's CPU found its thread busy:
/// the thread then drops its next values itself ([`Stage::waited`]). In a paced frame
/// loop that sleeps after each hand-off the wait was 12 µs at the median and 106 µs
/// at the 90th percentile; in a loop that never sleeps, 2.8 ms at the median.
pub(crate) const FOLLOW_WAIT: Duration = Duration::from_millis(1);

/// The first refusal after a long wait, and the longest, in values.
const REFUSAL_FIRST: u32 = 4;
const REFUSAL_MAX: u32 = 256;

/// Who sweeps the stages, which decides what a sweep takes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sweep {
    /// A worker, for itself: stages with values in the queue are left alone.
    Worker,
    /// A flush, which sends what it takes to the queue: every stage.
    Flush,
    /// A closing pool: every stage, which is sealed.
    Seal,
}

struct StageState {
    /// The stage's only value, when it holds one: the first value staged since the
    /// stage was last emptied waits here, on the stage's own lines, and moves to
    /// `values` when a second one comes. A thread that hands over one value at a time
    /// (and the worker that takes it) then never touches the buffer: one page fewer
    /// on the caller's path after a pause. Never set while `values` holds any.
    first: Option<Erased>,
    /// Staged values, oldest first; always has room for a full stage (a buffer taken
    /// away is replaced by a spare), except once sealed.
    values: Vec<Erased>,
    /// Budget reserved for values not yet staged.
    room: usize,
    /// Set when the pool closes: the stage takes no more values.
    sealed: bool,
    /// `Builder::follow_caller_cpu`: the stage holds one value at most, and notes
    /// its thread's CPU at each hand-off.
    follow: bool,
    /// `Builder::follow_caller_cpu`: how many times the stage's thread had blocked
    /// ([`raw::voluntary_switches`](crate::raw::voluntary_switches)) when it last
    /// handed over a value that a worker could have taken; `None` before that, or
    /// where the count is unknown.
    switches: Option<u64>,
}

impl StageState {
    /// Values staged, in `first` or in `values`.
    fn staged(&self) -> usize {
        self.values.len() + usize::from(self.first.is_some())
    }

    /// Stages `value` while `values` is empty: in `first` if that is free, otherwise
    /// after the value there, both in `values`. Returns the values staged.
    #[inline]
    fn stage_first<T: Send + 'static>(&mut self, value: T) -> usize {
        if self.first.is_none() {
            put_erased(&mut self.first, value);
            1
        } else {
            self.first_into_values();
            push_erased(&mut self.values, value);
            2
        }
    }

    /// Moves the value in `first`, if any, to the end of `values`. Out of line: the
    /// 32-byte aligned `Erased` it moves would make the inlined hand-off realign its
    /// stack frame on every value.
    #[inline(never)]
    fn first_into_values(&mut self) {
        if let Some(first) = self.first.take() {
            self.values.push(first);
        }
    }
}

/// Why [`push`] gave a value back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The capacity is used up (and the stage full or without room): the pool's
    /// [`FullPolicy`](crate::FullPolicy) applies.
    Full,
    /// The pool is closing: the caller drops the value.
    Closing,
    /// This thread cannot stage for this pool (stages for too many pools, or its
    /// thread-locals are gone): the value goes to the queue on its own.
    Unstaged,
    /// This thread's first stage is for another pool, or is sealed: see
    /// [`push_slow`].
    Elsewhere,
    /// With `Builder::follow_caller_cpu`: the stage still holds this thread's
    /// previous value (no worker had its CPU idle since), so the caller drops this
    /// one.
    Busy,
}

/// A pool's stages, its capacity budget, and spare stage buffers.
pub(crate) struct Stages {
    /// Values per stage; a full stage is shipped.
    len: usize,
    /// The pool's capacity in values (`usize::MAX` without a budget).
    capacity: usize,
    /// Free capacity in values (`DropInline`), or `None` (no budget: `Grow`, or a
    /// pool that does not stage). Callers touch it once per stage's worth of values.
    budget: Option<Padded<AtomicUsize>>,
    /// Every live stage, for the sweeps. Stages whose thread has exited are removed
    /// by the sweep that empties them.
    registry: Mutex<Vec<Arc<Stage>>>,
    /// Emptied buffers on their way back to the stages.
    spare_tx: Sender<Vec<Erased>>,
    spare_rx: Receiver<Vec<Erased>>,
    /// `Builder::follow_caller_cpu`, given to each stage.
    follow: bool,
}

impl Stages {
    /// Stages of `len` values (0: the pool does not stage), with a budget of
    /// `capacity` values if given; `follow` for `Builder::follow_caller_cpu`.
    pub(crate) fn new(len: usize, capacity: Option<usize>, follow: bool) -> Self {
        // Enough buffers for a full queue of full stages and a few being refilled, so
        // that a caller shipping a stage finds a spare instead of allocating one (a
        // malloc of a couple of KiB on the caller's path can stall in glibc).
        let spares = if len == 0 {
            0
        } else {
            capacity.map_or(MAX_SPARES, |c| (c.div_ceil(len) + 2).min(MAX_SPARES))
        };
        let (spare_tx, spare_rx) = channel::bounded(spares.max(1));
        for _ in 0..spares {
            drop(spare_tx.try_send(Vec::with_capacity(len)));
        }
        Stages {
            len,
            capacity: capacity.unwrap_or(usize::MAX),
            budget: capacity.map(|c| Padded(AtomicUsize::new(c))),
            registry: Mutex::new(Vec::new()),
            spare_tx,
            spare_rx,
            follow,
        }
    }

    /// Whether the free capacity is under half: sweeps then give back the room that
    /// stages reserved and did not use, rather than leave it to their threads.
    fn budget_low(&self) -> bool {
        self.budget
            .as_ref()
            .is_some_and(|b| b.load(Ordering::Relaxed) < self.capacity / 2)
    }

    /// Whether values are staged at all.
    #[inline]
    pub(crate) fn enabled(&self) -> bool {
        self.len != 0
    }

    /// Reserves room for up to `want` values (at least one unless none is free).
    pub(crate) fn reserve(&self, want: usize) -> usize {
        let Some(budget) = &self.budget else {
            return want;
        };
        let mut free = budget.load(Ordering::Relaxed);
        loop {
            if free == 0 {
                return 0;
            }
            let take = want.min(free);
            match budget.compare_exchange_weak(
                free,
                free - take,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return take,
                Err(now) => free = now,
            }
        }
    }

    /// Gives back room for `n` values: taken off the queue by a worker, or reserved
    /// and not used.
    #[inline]
    pub(crate) fn release(&self, n: usize) {
        if let (Some(budget), true) = (&self.budget, n != 0) {
            budget.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// An empty buffer with room for a full stage: a recycled one if any.
    fn spare(&self) -> Vec<Erased> {
        self.spare_rx
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(self.len))
    }

    /// Keeps an emptied buffer for a stage to reuse (or frees it if enough are kept).
    pub(crate) fn recycle(&self, buffer: Vec<Erased>) {
        debug_assert!(buffer.is_empty());
        if buffer.capacity() >= self.len && self.len != 0 {
            drop(self.spare_tx.try_send(buffer));
        }
    }

    /// Sends `stage`'s values to the queue as one message, leaving a spare buffer in
    /// their place; if the queue is full they stay. Called under the stage's lock.
    fn ship(&self, stage: &Arc<Stage>, values: &mut Vec<Erased>, tx: &Sender<Msg>) -> bool {
        let batch = std::mem::replace(values, self.spare());
        stage.in_flight.fetch_add(1, Ordering::Relaxed);
        match tx.try_send(Msg::Batch(batch, Arc::clone(stage))) {
            Ok(()) => true,
            Err(e) => {
                stage.in_flight.fetch_sub(1, Ordering::Relaxed);
                let Msg::Batch(batch, _) = e.into_inner() else {
                    unreachable!("try_send gives back the message it was given")
                };
                self.recycle(std::mem::replace(values, batch));
                false
            }
        }
    }

    /// The stages a worker's sweep would take values from now, each with the CPU its
    /// thread was on when it staged them (`Builder::follow_caller_cpu`).
    pub(crate) fn waiting(&self) -> Vec<(Arc<Stage>, u32)> {
        lock(&self.registry)
            .iter()
            .filter(|stage| {
                stage.staged.load(Ordering::Relaxed) != 0
                    && stage.in_flight.load(Ordering::Relaxed) == 0
            })
            .map(|stage| (Arc::clone(stage), stage.cpu.load(Ordering::Relaxed)))
            .collect()
    }

    /// `Builder::follow_caller_cpu`: lets every thread that dropped a value because
    /// it had not blocked since its previous one read its count again at its next
    /// value (see [`Stage::unblocked`]). Called by each sweep of a following worker.
    pub(crate) fn recheck(&self) {
        for stage in lock(&self.registry).iter() {
            if stage.unblocked.load(Ordering::Relaxed) {
                stage.unblocked.store(false, Ordering::Relaxed);
            }
        }
    }

    /// A new stage for the current thread, unless the pool is closing.
    fn register(&self, closing: &AtomicBool) -> Option<Arc<Stage>> {
        let mut registry = lock(&self.registry);
        // Checked under the registry's lock: a closing pool seals every registered
        // stage under it after setting `closing`, so a stage either is sealed or is
        // never created.
        if closing.load(Ordering::SeqCst) {
            return None;
        }
        let stage = Arc::new(Stage {
            state: SpinLock::new(StageState {
                first: None,
                values: self.spare(),
                room: 0,
                sealed: false,
                follow: self.follow,
                switches: None,
            }),
            len: self.len,
            staged: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            cpu: std::sync::atomic::AtomicU32::new(NO_CPU),
            refuse: std::sync::atomic::AtomicU32::new(0),
            roam: std::sync::atomic::AtomicU32::new(0),
            refusal: std::sync::atomic::AtomicU32::new(0),
            unblocked: std::sync::atomic::AtomicBool::new(false),
            // Registered by the stage's own thread, on its first value for the pool.
            tid: if self.follow {
                current_tid().unwrap_or(0)
            } else {
                0
            },
        });
        registry.push(Arc::clone(&stage));
        Some(stage)
    }

    /// Takes the staged values (all of them, or for [`Sweep::Worker`] those of the
    /// stages with nothing in the queue), each with its stage. The room stages
    /// reserved and did not use is given back when the free capacity is low, when the
    /// stage's thread has exited, and with [`Sweep::Seal`] (a closing pool), after
    /// which the stages take no more values.
    ///
    /// The buffers come in no particular order between stages, each in the order its
    /// thread staged them.
    pub(crate) fn sweep(&self, by: Sweep) -> Vec<(Vec<Erased>, Arc<Stage>)> {
        self.sweep_where(by, |_| true)
    }

    /// [`sweep`](Self::sweep), of the stages `pick` picks only: the others are left
    /// as they are.
    pub(crate) fn sweep_where(
        &self,
        by: Sweep,
        pick: impl Fn(&Arc<Stage>) -> bool,
    ) -> Vec<(Vec<Erased>, Arc<Stage>)> {
        let mut taken = Vec::new();
        if !self.enabled() {
            return taken;
        }
        let seal = by == Sweep::Seal;
        let give_back = seal || self.budget_low();
        // Taken before any stage's lock, which its thread may be waiting for.
        let mut spare = (!seal).then(|| self.spare());
        lock(&self.registry).retain(|stage| {
            if !pick(stage) {
                return true;
            }
            // A stage seen empty is left alone. That cannot miss a value that must be
            // taken: the count is written under the lock with the values, so a value
            // staged before a flush (which happens-before the flush's sweep) is seen;
            // one staged just now is seen by the next sweep.
            if !give_back
                && stage.staged.load(Ordering::Relaxed) == 0
                && Arc::strong_count(stage) > 1
            {
                return true;
            }
            let mut s = stage.state.lock();
            // With values of this stage still in the queue, a worker taking the newer
            // ones now would drop them first.
            let in_order = by != Sweep::Worker || stage.in_flight.load(Ordering::Relaxed) == 0;
            if s.staged() != 0 && in_order {
                let fresh = spare.take().unwrap_or_default();
                let batch = if let Some(first) = s.first.take() {
                    // The stage keeps its buffer; the value leaves in the spare one.
                    let mut batch = fresh;
                    batch.push(first);
                    batch
                } else {
                    std::mem::replace(&mut s.values, fresh)
                };
                taken.push((batch, Arc::clone(stage)));
                stage.staged.store(0, Ordering::Relaxed);
                if by == Sweep::Flush {
                    // On its way to the queue, behind this stage's earlier messages.
                    stage.in_flight.fetch_add(1, Ordering::Relaxed);
                }
            }
            // Checked under the stage's lock, after taking its values: a stage that
            // only the registry holds belonged to a thread that has exited, and
            // nothing can be staged into it any more.
            let orphan = Arc::strong_count(stage) == 1;
            if give_back || orphan {
                // Otherwise the stage keeps its room, so that its thread's next value
                // does not touch the shared budget.
                self.release(std::mem::take(&mut s.room));
            }
            s.sealed |= seal;
            // An exited thread's stage is forgotten once empty (values left behind
            // for order's sake are taken by a later sweep).
            let keep = !seal && (!orphan || s.staged() != 0);
            drop(s);
            if spare.is_none() && !seal {
                spare = Some(self.spare());
            }
            keep
        });
        if let Some(spare) = spare {
            self.recycle(spare);
        }
        taken
    }
}

impl Stage {
    /// Stages `value`, or gives it back with the reason.
    #[inline]
    fn push<T: Send + 'static>(
        this: &Arc<Self>,
        stages: &Stages,
        tx: &Sender<Msg>,
        value: T,
    ) -> Result<(), (Refused, T)> {
        let mut s = this.state.lock();
        if s.sealed {
            return Err((Refused::Elsewhere, value));
        }
        if s.room == 0 {
            // With `Builder::follow_caller_cpu` this is every value: see `make_room`.
            if let Err(why) = stages.make_room(this, &mut s, tx) {
                return Err((why, value));
            }
        }
        // A stream of values takes the second branch (`first` is empty then); a
        // thread that hands over one value at a time, the first.
        let count = if s.values.is_empty() {
            s.stage_first(value)
        } else {
            push_erased(&mut s.values, value);
            s.values.len()
        };
        s.room -= 1;
        let count = if count >= this.len {
            // A stage of one value (a pool whose capacity is 1) ships it from `first`.
            s.first_into_values();
            // If the queue is full, the values wait here: the next value tries again,
            // and an idle worker sweeps them.
            stages.ship(this, &mut s.values, tx);
            s.values.len()
        } else {
            count
        };
        this.staged.store(count, Ordering::Relaxed);
        Ok(())
    }

    fn sealed(&self) -> bool {
        self.state.lock().sealed
    }

    /// `Builder::follow_caller_cpu`: whether the thread drops this value itself, as
    /// one of a refusal (counted down).
    fn refusing(&self) -> bool {
        count_down(&self.refuse)
    }

    /// `Builder::follow_caller_cpu`: whether a worker takes this stage's value where
    /// it is, as one of a roam (counted down).
    pub(crate) fn roaming(&self) -> bool {
        count_down(&self.roam)
    }

    /// `Builder::follow_caller_cpu`: a worker waited `wait` to run on this stage's
    /// CPU. A long wait means the CPU had no idle time to give, and rather than have
    /// a worker wait there again for the next values:
    /// - if the stage's thread is running (it kept the CPU busy itself, a loop that
    ///   does not sleep), the thread drops its next values itself (a worker sitting
    ///   on its CPU invites the scheduler to move it away from its caches);
    /// - if it is asleep (other threads kept its CPU busy), workers take its next
    ///   values where they are, as a pool that does not follow would.
    ///
    /// Twice as many values after each long wait in a row, up to [`REFUSAL_MAX`].
    ///
    /// Returns whether the worker is to leave the CPU before it drops the value it
    /// came for: after a long wait for a thread that is running (or whose state is
    /// unknown), the worker got the CPU only because the scheduler gives an
    /// idle-priority thread a slice now and then, and the thread waits while the
    /// worker runs there.
    #[must_use = "a worker that got a busy thread's CPU leaves it before dropping"]
    pub(crate) fn waited(&self, wait: Duration) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        if wait > FOLLOW_WAIT {
            let n = self.refusal.load(Relaxed).max(REFUSAL_FIRST);
            let leave = if thread_running(self.tid) == Some(false) {
                self.roam.store(n, Relaxed);
                false
            } else {
                self.refuse.store(n, Relaxed);
                true
            };
            self.refusal.store((n * 2).min(REFUSAL_MAX), Relaxed);
            leave
        } else {
            self.refusal.store(0, Relaxed);
            false
        }
    }
}

/// Takes one from `counter` if it is not zero; returns whether it did. A load first,
/// so that the common case (zero) writes nothing.
fn count_down(counter: &std::sync::atomic::AtomicU32) -> bool {
    use std::sync::atomic::Ordering::Relaxed;
    counter.load(Relaxed) != 0
        && counter
            .fetch_update(Relaxed, Relaxed, |n| n.checked_sub(1))
            .is_ok()
}

/// The calling thread's Linux thread id, from `/proc/thread-self` (a link to
/// `PID/task/TID`).
#[cfg(target_os = "linux")]
fn current_tid() -> Option<u32> {
    std::fs::read_link("/proc/thread-self")
        .ok()?
        .file_name()?
        .to_str()?
        .parse()
        .ok()
}

#[cfg(not(target_os = "linux"))]
fn current_tid() -> Option<u32> {
    None
}

/// Whether the thread `tid` of this process is running or ready to run (state `R`
/// in `/proc`); `None` if unknown.
#[cfg(target_os = "linux")]
fn thread_running(tid: u32) -> Option<bool> {
    if tid == 0 {
        return None;
    }
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
    // The state follows the command name, which is in parentheses and may hold any.
    let state = stat.get(stat.rfind(')')? + 2..)?.chars().next()?;
    Some(state == 'R')
}

#[cfg(not(target_os = "linux"))]
fn thread_running(_tid: u32) -> Option<bool> {
    None
}

impl Stages {
    /// Reserves room for more values in a stage that has none left, shipping it
    /// first if it is full: `Full` if there is no room.
    ///
    /// A stage of a `Builder::follow_caller_cpu` pool reserves room for one value at
    /// a time, so every value it takes comes through here: `Busy` while it still
    /// holds the last one, and otherwise the caller's CPU is noted. The hand-off of a
    /// pool that does not follow pays nothing for it.
    #[cold]
    #[inline(never)]
    fn make_room(
        &self,
        stage: &Arc<Stage>,
        s: &mut StageState,
        tx: &Sender<Msg>,
    ) -> Result<(), Refused> {
        if s.follow {
            if s.staged() != 0 || stage.refusing() || stage.unblocked.load(Ordering::Relaxed) {
                return Err(Refused::Busy);
            }
            // A thread that has not blocked since its last such value has kept its
            // CPU busy all that time: a worker would wait for that CPU in vain, and
            // take a slice of the thread's time when it got it. The thread drops the
            // value itself instead, without a worker having to find that out. Read
            // once per value a worker could take; after a refusal, not again until
            // the workers' next sweep (`unblocked`), so not for each value of a
            // burst.
            let switches = crate::raw::voluntary_switches();
            let before = std::mem::replace(&mut s.switches, switches);
            if before.is_some() && before == switches {
                stage.unblocked.store(true, Ordering::Relaxed);
                return Err(Refused::Busy);
            }
            stage.cpu.store(
                crate::raw::current_cpu().unwrap_or(NO_CPU),
                Ordering::Relaxed,
            );
            s.room = self.reserve(1);
        } else {
            if s.values.len() >= self.len && !self.ship(stage, &mut s.values, tx) {
                return Err(Refused::Full);
            }
            s.room = self.reserve(self.len - s.staged());
        }
        if s.room == 0 {
            Err(Refused::Full)
        } else {
            Ok(())
        }
    }
}

/// Stages `value` for the pool `pool` (the address of its `Shared`), or gives it
/// back with the reason; `None` instead of the value when this thread's
/// thread-locals are being destroyed, in which case the value has been dropped here
/// (an exiting thread drops its values itself).
#[inline]
pub(crate) fn push<T: Send + 'static>(
    pool: usize,
    stages: &Stages,
    tx: &Sender<Msg>,
    closing: &AtomicBool,
    value: T,
) -> Result<(), (Refused, Option<T>)> {
    let fast = MINE.try_with(move |mine| match mine.try_borrow() {
        Ok(mine) => match mine.first() {
            Some((id, stage)) if *id == pool => Stage::push(stage, stages, tx, value),
            _ => Err((Refused::Elsewhere, value)),
        },
        Err(_) => Err((Refused::Unstaged, value)),
    });
    match fast {
        Ok(Ok(())) => Ok(()),
        Ok(Err((Refused::Elsewhere, value))) => push_slow(pool, stages, tx, closing, value),
        Ok(Err((why, value))) => Err((why, Some(value))),
        Err(_) => Err((Refused::Closing, None)),
    }
}

/// [`push`] for a thread whose first stage is not this pool's (or is sealed): finds
/// or registers this pool's stage (forgetting stages of closed pools when it has too
/// many), moves it first, and stages the value there.
#[cold]
#[inline(never)]
fn push_slow<T: Send + 'static>(
    pool: usize,
    stages: &Stages,
    tx: &Sender<Msg>,
    closing: &AtomicBool,
    value: T,
) -> Result<(), (Refused, Option<T>)> {
    if closing.load(Ordering::SeqCst) {
        return Err((Refused::Closing, Some(value)));
    }
    let outcome = MINE.try_with(move |mine| {
        let Ok(mut mine) = mine.try_borrow_mut() else {
            return Err((Refused::Unstaged, value));
        };
        let mut value = value;
        if let Some(stage) = mine.bring_forward(pool) {
            match Stage::push(stage, stages, tx, value) {
                // Sealed: it belonged to an earlier pool at this address.
                Err((Refused::Elsewhere, v)) => {
                    mine.remove_first();
                    value = v;
                }
                other => return other,
            }
        }
        if mine.len >= MAX_STAGES {
            // Stages of pools that have closed are of no more use (and empty).
            mine.retain(|stage| !stage.sealed());
            if mine.len >= MAX_STAGES {
                return Err((Refused::Unstaged, value));
            }
        }
        let Some(stage) = stages.register(closing) else {
            return Err((Refused::Closing, value));
        };
        let stage = mine.insert_first(pool, stage);
        match Stage::push(stage, stages, tx, value) {
            // Sealed since it was registered: the pool is closing.
            Err((Refused::Elsewhere, v)) => Err((Refused::Closing, v)),
            other => other,
        }
    });
    match outcome {
        Ok(Ok(())) => Ok(()),
        Ok(Err((why, value))) => Err((why, Some(value))),
        Err(_) => Err((Refused::Closing, None)),
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn ids(mine: &Mine) -> Vec<usize> {
        let listed: Vec<usize> = mine.entries[..mine.len]
            .iter()
            .map(|e| e.as_ref().expect("entries in use are filled").0)
            .collect();
        assert!(mine.entries[mine.len..].iter().all(Option::is_none));
        listed
    }

    #[test]
    fn mine_keeps_its_stages_at_the_front_in_order() {
        let stages = Stages::new(4, None, false);
        let closing = AtomicBool::new(false);
        let mut mine = Mine::new();
        assert!(mine.first().is_none());
        for pool in 1..=MAX_STAGES {
            let stage = stages.register(&closing).expect("not closing");
            mine.insert_first(pool, stage);
        }
        assert_eq!(ids(&mine), [4, 3, 2, 1]);
        assert!(mine.bring_forward(9).is_none());
        assert!(mine.bring_forward(2).is_some());
        assert_eq!(ids(&mine), [2, 3, 4, 1]);
        mine.remove_first();
        assert_eq!(ids(&mine), [3, 4, 1]);
        // Seal the stage of pool 4 only, then forget the sealed ones.
        mine.entries[1].as_ref().unwrap().1.state.lock().sealed = true;
        mine.retain(|stage| !stage.sealed());
        assert_eq!(ids(&mine), [3, 1]);
        let stage = stages.register(&closing).expect("not closing");
        mine.insert_first(7, stage);
        assert_eq!(ids(&mine), [7, 3, 1]);
        assert_eq!(mine.first().map(|(id, _)| *id), Some(7));
        while mine.len != 0 {
            mine.remove_first();
        }
        assert!(ids(&mine).is_empty());
        mine.remove_first(); // empty: nothing to do
        assert!(mine.first().is_none());
    }

    /// A stage of `stages` registered for this thread, and a queue to ship it to.
    fn registered(stages: &Stages) -> (Arc<Stage>, Sender<Msg>, Receiver<Msg>) {
        let stage = stages
            .register(&AtomicBool::new(false))
            .expect("not closing");
        let (tx, rx) = channel::bounded(4);
        (stage, tx, rx)
    }

    /// Records its number in a shared log when dropped.
    struct Probe(u32, Arc<std::sync::Mutex<Vec<u32>>>);

    impl Drop for Probe {
        fn drop(&mut self) {
            self.1.lock().expect("not poisoned").push(self.0);
        }
    }

    #[test]
    fn a_lone_value_waits_on_the_stage_and_a_second_moves_it_into_the_buffer_ahead() {
        let stages = Stages::new(4, None, false);
        let (stage, tx, _rx) = registered(&stages);
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let push = |v: u32| {
            let pushed = Stage::push(&stage, &stages, &tx, Probe(v, Arc::clone(&log)));
            assert!(pushed.is_ok(), "room for it");
        };
        let dropped = || log.lock().expect("not poisoned").clone();
        let buffer = stage.state.lock().values.as_ptr();
        // One value waits on the stage, and is taken without touching the buffer.
        push(1);
        assert!(stage.state.lock().first.is_some());
        assert_eq!(stage.staged.load(Ordering::Relaxed), 1);
        drop(stages.sweep(Sweep::Worker));
        assert_eq!(dropped(), [1]);
        assert_eq!(
            stage.state.lock().values.as_ptr(),
            buffer,
            "the stage kept it"
        );
        // A second value moves the first into the buffer, ahead of itself.
        push(2);
        push(3);
        {
            let s = stage.state.lock();
            assert!(s.first.is_none());
            assert_eq!(s.values.len(), 2);
        }
        assert_eq!(stage.staged.load(Ordering::Relaxed), 2);
        drop(stages.sweep(Sweep::Worker));
        assert_eq!(dropped(), [1, 2, 3]);
    }

    #[test]
    fn a_stage_of_one_value_ships_it_at_once() {
        let stages = Stages::new(1, Some(1), false);
        let (stage, tx, rx) = registered(&stages);
        assert!(Stage::push(&stage, &stages, &tx, 7_u32).is_ok());
        assert!(rx.try_recv().is_ok(), "shipped");
        let s = stage.state.lock();
        assert_eq!((s.first.is_none(), s.values.len()), (true, 0));
    }

    #[test]
    fn a_following_stage_holds_one_value_and_refuses_values_after_long_waits() {
        let stages = Stages::new(4, None, true);
        let (stage, tx, _rx) = registered(&stages);
        let push = |v: u32| Stage::push(&stage, &stages, &tx, v).map_err(|(why, _)| why);
        let take = || stages.sweep(Sweep::Worker).len();
        // Stands for this thread blocking before its next value, as a loop that
        // sleeps between frames does: the count its last value saw is forgotten,
        // and a worker sweeps meanwhile.
        let block = || {
            stage.state.lock().switches = None;
            stages.recheck();
        };
        let unblocked = || stage.unblocked.load(Ordering::Relaxed);
        assert_eq!(push(1), Ok(()));
        assert_eq!(push(2), Err(Refused::Busy), "the first value still waits");
        assert_eq!(take(), 1);
        if crate::raw::voluntary_switches().is_some() {
            assert_eq!(push(3), Err(Refused::Busy), "this thread has not blocked");
            assert!(unblocked(), "its next values are refused without a reading");
            assert_eq!(push(3), Err(Refused::Busy));
        }
        block();
        assert!(!unblocked(), "the sweep lets it read its count again");
        assert_eq!(push(3), Ok(()));
        assert_eq!(take(), 1);
        // A worker waited long for the thread's CPU: 4 values refused, then 8.
        for refused in [4, 8] {
            assert!(stage.waited(FOLLOW_WAIT * 2), "this thread runs: leave");
            for _ in 0..refused {
                assert_eq!(push(0), Err(Refused::Busy));
            }
            block();
            assert_eq!(push(4), Ok(()));
            assert_eq!(take(), 1);
        }
        // A short wait starts the doubling over.
        assert!(!stage.waited(Duration::ZERO), "a short wait: stay");
        assert!(stage.waited(FOLLOW_WAIT * 2));
        for _ in 0..4 {
            assert_eq!(push(0), Err(Refused::Busy));
        }
        block();
        assert_eq!(push(5), Ok(()));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_long_wait_for_a_sleeping_threads_cpu_lets_workers_take_its_values_where_they_are() {
        let stages = Arc::new(Stages::new(4, None, true));
        let closing = Arc::new(AtomicBool::new(false));
        let (stage_tx, stage_rx) = std::sync::mpsc::channel();
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let sleeper = {
            let (stages, closing) = (Arc::clone(&stages), Arc::clone(&closing));
            std::thread::spawn(move || {
                // Registered on this thread, which then sleeps.
                let stage = stages.register(&closing).expect("not closing");
                stage_tx.send(stage).expect("the test waits");
                let _ = wait.recv();
            })
        };
        let stage = stage_rx.recv().expect("the stage");
        assert_eq!(thread_running(current_tid().expect("a tid")), Some(true));
        let deadline = std::time::Instant::now() + Duration::from_mins(1);
        while thread_running(stage.tid) != Some(false) {
            assert!(
                std::time::Instant::now() < deadline,
                "the thread never sleeps"
            );
            std::thread::yield_now();
        }
        assert!(
            !stage.waited(FOLLOW_WAIT * 2),
            "the thread sleeps: drop its value here"
        );
        for _ in 0..REFUSAL_FIRST {
            assert!(stage.roaming());
        }
        assert!(!stage.roaming());
        assert!(!stage.refusing(), "its own values are not refused");
        release.send(()).expect("the thread waits");
        sleeper.join().expect("no panic");
    }
}
