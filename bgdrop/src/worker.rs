//! The worker side of a pool: the state workers share with callers, the worker loop,
//! its idle back-off, and the flush barrier.

use crate::raw::{self, CpuSet, Erased, SpinLock};
use crate::stage::{NO_CPU, STAGE_LEN, SWEEP_EVERY, Stage, Stages, Sweep};
use crate::stats::{CallerCounters, CallerEvent, SHARD_COUNT};
use crate::sync::channel::{Receiver, SendError, SendTimeoutError, Sender, TryRecvError};
pub(crate) use crate::sync::lock;
use crate::sync::thread::{self, Thread};
use crate::sync::time::{Duration, Instant};
use crate::sync::{
    Arc, AtomicBool, AtomicU64, AtomicUsize, Condvar, Mutex, Ordering, fence, wait_notified,
    wait_timeout,
};
use crate::{BuildError, Builder, FullPolicy};
use std::any::Any;
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// One entry of a pool's queue.
pub(crate) enum Msg {
    /// A value to drop.
    Value(Erased),
    /// A stage's values, oldest first, and the stage (see `crate::stage`).
    Batch(Vec<Erased>, Arc<Stage>),
    /// One of the tokens of a [`FlushBarrier`]; every worker takes at most one.
    Flush(Arc<FlushBarrier>),
}

/// What the current thread is, for the hand-off: see [`thread_may_defer`].
const ROLE_NEW: usize = 0;
const ROLE_ORDINARY: usize = 1;
const ROLE_EXITING: usize = 2;
// Any other value: the address of the `Shared` state of the pool this thread works for.

crate::sync::thread_local! {
    /// The current thread's role. Const-initialised with no destructor, so it stays
    /// readable while the thread's other thread-locals are destroyed.
    static ROLE: Cell<usize> = const { Cell::new(ROLE_NEW) };
    /// Registered on a thread's first hand-off; its destructor marks the thread as
    /// exiting, so that values handed over from thread-local destructors that run
    /// after it are dropped inline.
    static EXIT_GUARD: ExitGuard = const { ExitGuard };
}

struct ExitGuard;

impl Drop for ExitGuard {
    fn drop(&mut self) {
        // `ROLE` has no destructor, so with std this never fails; loom destroys all of
        // a thread's (mock) thread-locals at once, and there it may.
        let _ = ROLE.try_with(|r| {
            if r.get() == ROLE_ORDINARY {
                r.set(ROLE_EXITING);
            }
        });
    }
}

/// Whether the current thread may hand a value to a pool: not a worker (deferring from
/// a destructor running on a worker could wait for that very worker) and not exiting
/// (thread-local destructors run when nothing should wait any more).
#[inline]
pub(crate) fn thread_may_defer() -> bool {
    match ROLE.with(Cell::get) {
        ROLE_ORDINARY => true,
        ROLE_NEW => register_thread(),
        _ => false,
    }
}

#[cold]
#[inline(never)]
fn register_thread() -> bool {
    // Touching the guard registers its destructor. If thread-locals are already being
    // destroyed the access fails: the thread is exiting.
    if EXIT_GUARD.try_with(|_| ()).is_ok() {
        ROLE.with(|r| r.set(ROLE_ORDINARY));
        true
    } else {
        ROLE.with(|r| r.set(ROLE_EXITING));
        false
    }
}

/// Whether the current thread is a worker of any bgdrop pool.
#[inline]
pub(crate) fn on_any_worker() -> bool {
    ROLE.with(Cell::get) > ROLE_EXITING
}

/// How a worker waits when the queue is empty.
///
/// Callers never wake a worker on the hot path (a futex wake costs the caller
/// microseconds). Instead an idle worker spins briefly, then yields, then sleeps in
/// growing steps up to [`WARM_SLEEP_MAX`] while it has had work within
/// [`WARM_WINDOW`]; after that it is cold and sleeps [`COLD_SLEEP`] at a time (worker 0)
/// or until woken (the others, which worker 0 wakes when it finds a backlog). Callers
/// wake workers only when the queue is full, on `flush`, and at shutdown.
pub(crate) const WARM_SLEEP_MAX: Duration = Duration::from_millis(1);
/// See [`WARM_SLEEP_MAX`].
pub(crate) const WARM_WINDOW: Duration = Duration::from_secs(1);
/// See [`WARM_SLEEP_MAX`].
pub(crate) const COLD_SLEEP: Duration = Duration::from_millis(50);
const FIRST_SLEEP: Duration = Duration::from_micros(50);
/// How long a worker paused for an overload sleeps between looks at
/// `Shared::overloads`; it resumes after one such sleep without a new report.
pub(crate) const OVERLOAD_PAUSE: Duration = Duration::from_micros(100);
/// A worker idle (asleep or polling for work) less than half of this, while values
/// kept arriving at least half as fast as the pool dropped them, had a *saturated*
/// window.
pub(crate) const SATURATION_WINDOW: Duration = Duration::from_millis(10);
/// Saturated windows in a row after which the threads that streamed values into the
/// last one drop their values inline for a while (`Builder::inline_when_saturated`):
/// a burst handed over at once fills one window at most, a sustained stream fills
/// them all.
const SATURATED_WINDOWS: u32 = 2;
/// A thread streams values into a window when it hands over at least this many in
/// it, and at least a quarter of the window's arrivals: a frame or a callback that
/// hands over a few values each time never does.
const STREAM_MIN: u64 = 64;
/// How long a streaming thread drops its values inline once the pool is saturated;
/// then it hands values over again, and the workers look again. A pool saturated
/// again within
/// [`SATURATION_RELAPSE`] of the end of the last hold doubles the hold, up to
/// [`SATURATION_HOLD_MAX`]: a stream that keeps the workers busy for seconds is
/// probed less and less often.
pub(crate) const SATURATION_HOLD: Duration = Duration::from_millis(100);
/// See [`SATURATION_HOLD`].
pub(crate) const SATURATION_HOLD_MAX: Duration = Duration::from_secs(1);
/// See [`SATURATION_HOLD`]: the time the windows of a new saturation take, with room
/// for the first one, which the end of the hold splits.
const SATURATION_RELAPSE: Duration = Duration::from_millis(50);
/// Under loom every spin and yield is a step of the model: one of each is enough to
/// model the polling phase, which ends the same way however long it is.
const SPIN_ROUNDS: u32 = if cfg!(loom) { 1 } else { 10 };
/// See [`SPIN_ROUNDS`].
const YIELD_ROUNDS: u32 = if cfg!(loom) { 1 } else { 20 };

/// A value on cache lines of its own (128 bytes: adjacent-line prefetching pairs
/// 64-byte lines on x86).
#[repr(align(128))]
pub(crate) struct Padded<T>(pub(crate) T);

impl<T> std::ops::Deref for Padded<T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        &self.0
    }
}

/// What one worker has done. Only its worker writes it, with plain stores (no
/// read-modify-write), except the helpers' entry, which uses `fetch_add`.
struct Progress {
    /// Destructors finished (normally or by panicking).
    completed: AtomicU64,
    /// `Shared::overloads` as this worker last saw it (only it reads and writes this).
    overloads_seen: AtomicU64,
}

impl Progress {
    fn new() -> Self {
        Progress {
            completed: AtomicU64::new(0),
            overloads_seen: AtomicU64::new(0),
        }
    }
}

/// State shared by a pool's handles and its workers.
#[repr(C)]
pub(crate) struct Shared {
    // The fields up to `_hot_end` are what every hand-off reads, on one cache line
    // (`repr(C)` keeps them there, in this order), and the callers' counter shards
    // follow it. After a pause each line the hand-off touches can be a cache miss
    // on the caller's path, and each page a TLB miss, so these fields share one
    // line, and a thread's shard is most often on the same page. The line's fields
    // are written only when the pool starts, closes, or a worker goes cold or warm,
    // so it stays in the callers' caches; each shard is written by its own thread.
    /// Set when the pool stops accepting values (last handle dropped, process exit).
    pub(crate) closing: AtomicBool,
    /// Whether callers stage values (see `crate::stage`): a copy of
    /// `stages.enabled()`, on this line.
    pub(crate) staging: bool,
    /// Workers that were spawned (fixed once the pool is built).
    pub(crate) workers: AtomicUsize,
    /// Workers in their cold sleep (idle for over [`WARM_WINDOW`]): a caller that
    /// queues a value while one is wakes it, so that a value handed to an idle pool
    /// is not left for up to [`COLD_SLEEP`].
    pub(crate) cold: AtomicUsize,
    /// Ends the callers' line: the fields below start on the next one.
    _hot_end: Padded<()>,
    /// The callers' counter shards, one line each, right after the callers' line
    /// (see `CallerCounters`).
    pub(crate) counters: CallerCounters,
    pub(crate) rx: Receiver<Msg>,
    pub(crate) policy: FullPolicy,
    pub(crate) capacity: Option<usize>,
    pub(crate) threshold: usize,
    /// Worker threads currently inside their loop.
    running: Mutex<usize>,
    running_changed: Condvar,
    /// Worker `Thread`s, for waking them.
    threads: Mutex<Vec<Thread>>,
    /// Workers parked (or about to park): callers that find the queue full wake
    /// workers only when some are.
    sleepers: Padded<AtomicUsize>,
    /// `Builder::wake_cold_workers`: when off, workers never count themselves in
    /// `cold`, so callers never wake them.
    wake_cold: bool,
    /// `Builder::follow_caller_cpu`, for a pool that stages (the stages know it
    /// too): workers move to a stage's CPU before they take its values.
    pub(crate) follow: bool,
    /// Bumped by a caller each time it finds the capacity used up under
    /// `FullPolicy::DropInline` (once per `FULL_BACKOFF` values at most); workers
    /// pause while it keeps moving (`Builder::yield_when_full`). Written only under
    /// overload, so it stays in the workers' caches otherwise.
    pub(crate) overloads: Padded<AtomicU64>,
    /// `Builder::yield_when_full`.
    yield_when_full: bool,
    /// `Builder::inline_when_saturated`, under `FullPolicy::DropInline` only.
    inline_when_saturated: bool,
    /// Whether some thread drops its values inline for now (its flag is on its
    /// counter shard, see `CallerCounters::saturated`): workers look at the holds
    /// only then. A std atomic even under loom, where saturation is off.
    saturated: std::sync::atomic::AtomicBool,
    /// The holds in force, per counter shard.
    saturation: Mutex<Saturation>,
    /// Flushes in progress: paused workers resume for them.
    flushing: AtomicUsize,
    /// Per-worker progress, one cache line each, written only by its worker; the last
    /// one is shared by threads that help to drain (process exit, shutdown).
    progress: Box<[Padded<Progress>]>,
    panicked: AtomicU64,
    /// Serialises flushes so that each flush's tokens sit together in the queue.
    flush_lock: Mutex<()>,
    /// The callers' stages and the capacity budget (see `crate::stage`).
    pub(crate) stages: Stages,
    /// Per worker: the values of the stages it took and has not dropped yet, last
    /// first (see `Shared::take_in_hand`); the last entry is shared by the threads
    /// that help to drain (process exit, shutdown). Whoever is stuck in a destructor,
    /// the values waiting behind it stay where others can take them.
    in_hand: Box<[Padded<SpinLock<Vec<Erased>>>]>,
}

// The callers' fields of `Shared` fit in its first cache line (loom's atomics are
// bigger, and loom does not model caches).
#[cfg(not(loom))]
const _: () = assert!(
    std::mem::offset_of!(Shared, cold) + std::mem::size_of::<AtomicUsize>() <= 64
        && std::mem::offset_of!(Shared, counters) == 128
);

impl Shared {
    pub(crate) fn new(rx: Receiver<Msg>, capacity: Option<usize>, builder: &Builder) -> Self {
        let Builder {
            policy,
            threshold,
            threads,
            wake_cold,
            yield_when_full,
            inline_when_saturated,
            follow_caller_cpu,
            ..
        } = *builder;
        let follow = follow_caller_cpu && policy != FullPolicy::Block;
        let stages = match (policy, capacity) {
            (FullPolicy::Block, _) => Stages::new(0, None, false),
            (_, Some(capacity)) => Stages::new(STAGE_LEN.min(capacity), Some(capacity), follow),
            (_, None) => Stages::new(STAGE_LEN, None, follow),
        };
        Shared {
            closing: AtomicBool::new(false),
            staging: stages.enabled(),
            workers: AtomicUsize::new(0),
            cold: AtomicUsize::new(0),
            counters: CallerCounters::new(),
            _hot_end: Padded(()),
            stages,
            wake_cold,
            follow,
            overloads: Padded(AtomicU64::new(0)),
            yield_when_full,
            // Under loom the clock jumps at every reading: the windows would say
            // nothing about the load. Saturation only decides where a value is
            // dropped, never whether.
            inline_when_saturated: inline_when_saturated
                && policy == FullPolicy::DropInline
                && !cfg!(loom),
            saturated: std::sync::atomic::AtomicBool::new(false),
            saturation: Mutex::new(Saturation::default()),
            flushing: AtomicUsize::new(0),
            rx,
            policy,
            capacity,
            threshold,
            running: Mutex::new(0),
            running_changed: Condvar::new(),
            threads: Mutex::new(Vec::new()),
            sleepers: Padded(AtomicUsize::new(0)),
            progress: (0..=threads).map(|_| Padded(Progress::new())).collect(),
            in_hand: (0..=threads)
                .map(|_| Padded(SpinLock::new(Vec::new())))
                .collect(),
            panicked: AtomicU64::new(0),
            flush_lock: Mutex::new(()),
        }
    }

    pub(crate) fn id(&self) -> usize {
        std::ptr::from_ref(self) as usize
    }

    /// Whether the current thread is one of this pool's workers.
    pub(crate) fn on_own_worker(&self) -> bool {
        ROLE.with(Cell::get) == self.id()
    }

    /// Destructors finished on workers (or by helpers). `Stats::pending` is what the
    /// callers counted as deferred minus this.
    pub(crate) fn completed(&self) -> u64 {
        self.progress
            .iter()
            .map(|p| p.completed.load(Ordering::Acquire))
            .sum()
    }

    pub(crate) fn panicked(&self) -> u64 {
        self.panicked.load(Ordering::Relaxed)
    }

    pub(crate) fn running(&self) -> usize {
        *lock(&self.running)
    }

    /// Wakes the workers if any is parked; for callers that find the queue full, so
    /// that a producer outrunning busy workers pays one load, not a lock and a
    /// syscall per value.
    ///
    /// A worker counts itself in `sleepers` and then checks the queue before it
    /// parks; the caller's queue is full (not empty) before it checks `sleepers`.
    /// With both sides fenced, either the worker sees the queue's values and does not
    /// park, or the caller sees the worker and wakes it.
    pub(crate) fn wake_sleepers(&self) {
        fence(Ordering::SeqCst);
        if self.sleepers.load(Ordering::Relaxed) != 0 {
            self.wake_all();
        }
    }

    /// Wakes the workers for a value queued while one of them was in its cold sleep.
    #[cold]
    #[inline(never)]
    pub(crate) fn wake_cold(&self) {
        self.wake_all();
    }

    /// Wakes every worker that is asleep (cheap for those that are not).
    pub(crate) fn wake_all(&self) {
        for t in lock(&self.threads).iter() {
            t.unpark();
        }
    }

    fn wake_others(&self) {
        let me = thread::current().id();
        for t in lock(&self.threads).iter().filter(|t| t.id() != me) {
            t.unpark();
        }
    }

    /// Stops accepting values: from now on every value is dropped by its caller.
    pub(crate) fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
        self.wake_all();
    }

    /// Waits until every worker other than the current thread has left its loop.
    pub(crate) fn wait_for_workers_to_exit(&self) {
        let me = usize::from(self.on_own_worker());
        let mut running = lock(&self.running);
        while *running > me {
            running = self
                .running_changed
                .wait(running)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    /// Drops one value taken off the queue (or out of a stage) by worker `index`,
    /// counting it; a panic is caught and counted.
    fn run_on_worker(&self, index: usize, value: Erased) {
        // Taken: its room in the capacity is free again.
        self.stages.release(1);
        let p = &self.progress[index];
        self.run_destructor(value);
        // Only this worker writes its entry: a load and a store cannot lose a count.
        p.completed
            .store(p.completed.load(Ordering::Relaxed) + 1, Ordering::Release);
    }

    /// Drops a stage's values, taken off the queue, on worker `index`, in order.
    fn run_batch_on_worker(&self, index: usize, batch: Vec<Erased>, stage: &Stage) {
        self.take_in_hand(index, batch);
        // In the hand, ahead of anything a later sweep of the stage takes.
        stage.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.run_hand(index);
    }

    /// Puts a stage's values in worker `index`'s hand, to run after those already
    /// there. Values wait there rather than in a local variable so that a process-exit
    /// drain can take them if one destructor never returns.
    fn take_in_hand(&self, index: usize, mut batch: Vec<Erased>) {
        // The hand is taken from its end.
        batch.reverse();
        let mut hand = self.in_hand[index].lock();
        if hand.is_empty() {
            let emptied = std::mem::replace(&mut *hand, batch);
            drop(hand);
            self.stages.recycle(emptied);
        } else {
            hand.splice(0..0, batch.drain(..));
            drop(hand);
            self.stages.recycle(batch);
        }
    }

    /// Drops the values in worker `index`'s hand, one at a time.
    fn run_hand(&self, index: usize) {
        loop {
            self.yield_to_overload(index);
            let next = self.in_hand[index].lock().pop();
            match next {
                Some(value) => self.run_on_worker(index, value),
                None => return,
            }
        }
    }

    /// While callers keep finding the pool full, pauses worker `index` (see
    /// `Builder::yield_when_full`): under glibc a worker's frees slow down the
    /// allocations and inline drops of the very callers it is failing to keep up
    /// with. It resumes once [`OVERLOAD_PAUSE`] passes with no new report, and at
    /// once for a flush or a shutdown. One load when there is no new report.
    #[inline]
    fn yield_to_overload(&self, index: usize) {
        if !self.yield_when_full {
            return;
        }
        let seen = &self.progress[index].overloads_seen;
        let mut last = self.overloads.load(Ordering::Relaxed);
        if last == seen.load(Ordering::Relaxed) {
            return;
        }
        loop {
            if self.closing.load(Ordering::Relaxed) || self.flushing.load(Ordering::Relaxed) != 0 {
                break;
            }
            thread::park_timeout(OVERLOAD_PAUSE);
            let now = self.overloads.load(Ordering::Relaxed);
            if now == last {
                break;
            }
            last = now;
        }
        seen.store(last, Ordering::Relaxed);
    }

    /// Takes the next value waiting in another worker's hand, if any: those were
    /// handed over before anything still in the queue, and their worker is busy with
    /// a destructor (which may take long). With one worker there is nobody to take
    /// from.
    fn steal(&self, index: usize) -> Option<Erased> {
        let workers = self.in_hand.len() - 1;
        // The helpers' hand has values only while the pool is closing.
        let helpers = self.closing.load(Ordering::Relaxed);
        if workers < 2 && !helpers {
            return None;
        }
        let upto = if helpers { workers + 1 } else { workers };
        self.in_hand[..upto]
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != index)
            .find_map(|(_, hand)| hand.lock().pop())
    }

    /// Takes the staged values of every thread (see `Stages::sweep`) and drops them on
    /// worker `index`. Returns whether there were any.
    fn sweep_on_worker(&self, index: usize, seal: bool, follower: &mut Follower) -> bool {
        if self.follow && !seal {
            return self.sweep_following(index, follower);
        }
        let taken = self
            .stages
            .sweep(if seal { Sweep::Seal } else { Sweep::Worker });
        self.run_taken(index, taken)
    }

    /// [`sweep_on_worker`](Self::sweep_on_worker) for `Builder::follow_caller_cpu`:
    /// takes each thread's staged value only once running on the CPU that thread
    /// handed it over from, so only once that CPU is idle (the worker has idle
    /// priority), and drops it there. Until then the value stays in its stage, and
    /// the thread drops its next value itself.
    fn sweep_following(&self, index: usize, follower: &mut Follower) -> bool {
        let mut any = false;
        for (stage, cpu) in self.stages.waiting() {
            if !stage.roaming() {
                if let Some(wait) = follower.go_to(cpu) {
                    if stage.waited(wait) {
                        // The thread kept its CPU busy: dropping the value there
                        // would make it wait, so the worker drops it back home.
                        follower.go_home();
                    }
                }
            }
            let taken = self
                .stages
                .sweep_where(Sweep::Worker, |s| Arc::ptr_eq(s, &stage));
            drop(stage);
            any |= self.run_taken(index, taken);
        }
        follower.go_home();
        self.stages.recheck();
        // The stages of threads that have exited, which the sweep forgets once empty.
        let orphans = self
            .stages
            .sweep_where(Sweep::Worker, |s| Arc::strong_count(s) == 1);
        self.run_taken(index, orphans) || any
    }

    /// Drops the values of a sweep on worker `index`; returns whether there were any.
    fn run_taken(&self, index: usize, taken: Vec<(Vec<Erased>, Arc<Stage>)>) -> bool {
        let any = !taken.is_empty();
        for (batch, _) in taken {
            self.take_in_hand(index, batch);
        }
        self.run_hand(index);
        any
    }

    /// Drops one value taken off the queue by a thread that is not a worker.
    fn run_on_helper(&self, value: Erased) {
        self.stages.release(1);
        let p = self.progress.last().expect("a helpers' entry");
        self.run_destructor(value);
        p.completed.fetch_add(1, Ordering::AcqRel);
    }

    fn run_destructor(&self, value: Erased) {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(value))) {
            self.panicked.fetch_add(1, Ordering::Relaxed);
            drop_panic_payload(payload);
        }
    }

    /// For a closing pool: takes values off the queue and drops them on the current
    /// thread, alongside the workers, until the queue is empty and every worker has
    /// left its loop (workers leave only between values, once the queue is empty), or
    /// until `deadline`. Returns whether everything was drained. Used at process exit,
    /// at shutdown, and by `flush` once the pool is closing.
    pub(crate) fn drain_here(&self, deadline: Option<Instant>) -> bool {
        // A worker draining from inside a destructor stays in its loop meanwhile.
        self.drain(deadline, usize::from(self.on_own_worker()), true)
    }

    /// [`drain_here`](Self::drain_here), counting `own` running workers as the
    /// current thread's own, and taking values off the queue only if `help`.
    fn drain(&self, deadline: Option<Instant>, own: usize, help: bool) -> bool {
        debug_assert!(self.closing.load(Ordering::SeqCst));
        loop {
            if help {
                // Everything goes through the helpers' hand, from which it is dropped
                // one value at a time: if a destructor never returns, the values
                // behind it stay where a worker or another helper can take them.
                let helpers = self.in_hand.len() - 1;
                // Sealed: from now on threads drop what they would have staged.
                for (batch, _) in self.stages.sweep(Sweep::Seal) {
                    self.take_in_hand(helpers, batch);
                }
                // Values a worker holds while it runs a destructor (that may never
                // return).
                for hand in &self.in_hand[..helpers] {
                    let mut waiting = std::mem::take(&mut *hand.lock());
                    if !waiting.is_empty() {
                        waiting.reverse();
                        self.take_in_hand(helpers, waiting);
                    }
                }
                while let Ok(msg) = self.rx.try_recv() {
                    match msg {
                        Msg::Value(v) => self.take_in_hand(helpers, vec![v]),
                        Msg::Batch(batch, stage) => {
                            self.take_in_hand(helpers, batch);
                            stage.in_flight.fetch_sub(1, Ordering::Relaxed);
                        }
                        Msg::Flush(barrier) => barrier.arrive(),
                    }
                }
                loop {
                    let next = self.in_hand[helpers].lock().pop();
                    match next {
                        Some(value) => self.run_on_helper(value),
                        None => break,
                    }
                }
            }
            let running = lock(&self.running);
            if *running <= own && self.rx.is_empty() {
                return true;
            }
            let left = match deadline {
                None => None,
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => return false,
                },
            };
            if help {
                // Woken when a worker leaves; the short timeout catches values that a
                // racing caller queued after the queue looked empty.
                let wait = left.map_or(Duration::from_millis(1), |l| {
                    l.min(Duration::from_millis(1))
                });
                drop(wait_timeout(
                    &self.running_changed,
                    &self.running,
                    running,
                    wait,
                ));
            } else {
                // Only waiting: what ends the wait (the helper or a worker leaving)
                // is always notified.
                drop(wait_notified(
                    &self.running_changed,
                    running,
                    left.unwrap_or(Duration::from_secs(3600)),
                ));
            }
        }
    }

    /// The process-exit path: stops accepting values, then drops what is queued,
    /// waiting at most `timeout` for destructors still running. Returns whether
    /// everything was drained.
    ///
    /// The draining alongside the workers happens on a helper thread, not on the
    /// exiting one: a destructor that never returns then holds up that helper (or a
    /// worker), and the exiting thread still leaves at the deadline. Only if no
    /// helper can be spawned does the exiting thread drain itself.
    pub(crate) fn close_and_drain(this: &Arc<Self>, timeout: Duration) -> bool {
        this.close();
        let deadline = Instant::now().checked_add(timeout);
        let own = usize::from(this.on_own_worker());
        // Counted as running until it is done, so waiting for the workers waits for
        // it too.
        *lock(&this.running) += 1;
        let shared = Arc::clone(this);
        let helper = thread::Builder::new()
            .name("bgdrop-exit".to_owned())
            .spawn(move || {
                // Itself, and the exiting thread if that is a worker.
                shared.drain(None, 1 + own, true);
                let mut running = lock(&shared.running);
                *running -= 1;
                shared.running_changed.notify_all();
            });
        if helper.is_ok() {
            this.drain(deadline, own, false)
        } else {
            *lock(&this.running) -= 1;
            this.drain(deadline, own, true)
        }
    }

    /// Blocks until every value queued before the call has been dropped, or until
    /// `deadline`. See [`Bgdrop::flush`](crate::Bgdrop::flush).
    pub(crate) fn flush(&self, tx: &Sender<Msg>, deadline: Option<Instant>) -> bool {
        if on_any_worker() {
            // Waiting for the pool's workers from one of them could wait for itself.
            return false;
        }
        if self.closing.load(Ordering::SeqCst) {
            return self.drain_here(deadline);
        }
        let workers = self.workers.load(Ordering::Acquire);
        if workers == 0 {
            // Without a worker nothing was ever queued.
            return true;
        }
        let barrier = Arc::new(FlushBarrier::new(workers));
        // Workers paused for an overload resume while a flush waits for them.
        self.flushing.fetch_add(1, Ordering::SeqCst);
        let _resume = Decrement(&self.flushing);
        {
            let _order = lock(&self.flush_lock);
            // Sleeping workers must make room if the queue is full.
            self.wake_all();
            // The values staged before the call, from any thread, go to the queue
            // ahead of the tokens.
            let mut swept = self.stages.sweep(Sweep::Flush).into_iter();
            while let Some((batch, stage)) = swept.next() {
                let staged = Msg::Batch(batch, stage);
                let sent = match deadline {
                    None => tx.send(staged).map_err(SendError::into_inner),
                    Some(d) => tx
                        .send_deadline(staged, d)
                        .map_err(SendTimeoutError::into_inner),
                };
                if let Err(unsent) = sent {
                    // Out of time: what could not be queued goes to worker 0's hand,
                    // which it empties before it next waits for work.
                    let rest = swept.by_ref().map(|(b, s)| Msg::Batch(b, s));
                    for left in std::iter::once(unsent).chain(rest) {
                        if let Msg::Batch(batch, stage) = left {
                            self.take_in_hand(0, batch);
                            stage.in_flight.fetch_sub(1, Ordering::Relaxed);
                        }
                    }
                    return false;
                }
            }
            for _ in 0..workers {
                let token = Msg::Flush(Arc::clone(&barrier));
                let ok = match deadline {
                    None => tx.send(token).is_ok(),
                    Some(d) => tx.send_deadline(token, d).is_ok(),
                };
                if !ok {
                    // Tokens already queued are skipped by the workers that take them.
                    barrier.abandon();
                    return false;
                }
            }
        }
        self.wake_all();
        barrier.wait(deadline)
    }
}

/// Decrements a counter when dropped.
struct Decrement<'a>(&'a AtomicUsize);

impl Drop for Decrement<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Drops a panic payload; a payload whose own destructor panics is dropped in turn,
/// a few levels deep, then leaked rather than allowed to unwind out of the worker.
fn drop_panic_payload(mut payload: Box<dyn Any + Send>) {
    for _ in 0..4 {
        match catch_unwind(AssertUnwindSafe(move || drop(payload))) {
            Ok(()) => return,
            Err(next) => payload = next,
        }
    }
    std::mem::forget(payload);
}

/// A rendezvous that proves every worker has finished what it took before a flush.
///
/// `flush` queues one token per worker, back to back. A worker that takes a token
/// waits at the barrier, so it cannot take a second one; the barrier opens when every
/// token is taken, which means every worker has finished the value it was dropping and
/// every value queued before the tokens has been taken (the queue is FIFO). A flusher
/// that times out abandons the barrier, which releases the workers waiting at it.
pub(crate) struct FlushBarrier {
    state: Mutex<BarrierState>,
    opened: Condvar,
}

struct BarrierState {
    remaining: usize,
    abandoned: bool,
}

impl FlushBarrier {
    pub(crate) fn new(tokens: usize) -> Self {
        FlushBarrier {
            state: Mutex::new(BarrierState {
                remaining: tokens,
                abandoned: false,
            }),
            opened: Condvar::new(),
        }
    }

    /// A worker took a token: count it and wait until the barrier opens.
    pub(crate) fn arrive_and_wait(&self) {
        let mut s = lock(&self.state);
        if s.abandoned {
            return;
        }
        s.remaining -= 1;
        if s.remaining == 0 {
            self.opened.notify_all();
            return;
        }
        while s.remaining > 0 && !s.abandoned {
            s = self
                .opened
                .wait(s)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    /// A thread that is not waiting took a token (draining at exit).
    pub(crate) fn arrive(&self) {
        let mut s = lock(&self.state);
        s.remaining = s.remaining.saturating_sub(1);
        if s.remaining == 0 {
            self.opened.notify_all();
        }
    }

    pub(crate) fn abandon(&self) {
        lock(&self.state).abandoned = true;
        self.opened.notify_all();
    }

    /// The flusher waits for the barrier to open; on timeout it abandons it.
    pub(crate) fn wait(&self, deadline: Option<Instant>) -> bool {
        let mut s = lock(&self.state);
        while s.remaining > 0 {
            match deadline {
                None => {
                    s = self
                        .opened
                        .wait(s)
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                }
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        s.abandoned = true;
                        drop(s);
                        self.opened.notify_all();
                        return false;
                    }
                    s = wait_timeout(&self.opened, &self.state, s, d - now);
                }
            }
        }
        true
    }
}

/// What a spawn handler gets: one worker thread to start.
///
/// Returned to the function given to
/// [`Builder::spawn_handler`](crate::Builder::spawn_handler), which must call
/// [`run`](WorkerThread::run) on a new thread (and should give it
/// [`name`](WorkerThread::name) and [`stack_size`](WorkerThread::stack_size)).
pub struct WorkerThread {
    pub(crate) shared: Arc<Shared>,
    pub(crate) index: usize,
    pub(crate) name: String,
    pub(crate) stack_size: Option<usize>,
    pub(crate) idle_priority: bool,
}

impl std::fmt::Debug for WorkerThread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerThread")
            .field("index", &self.index)
            .field("name", &self.name)
            .field("stack_size", &self.stack_size)
            .field("idle_priority", &self.idle_priority)
            .finish_non_exhaustive()
    }
}

impl WorkerThread {
    /// The worker's index in its pool, from 0. Indices are given to the workers that
    /// start: after a failed spawn, the next worker is offered the same index.
    #[must_use]
    pub fn index(&self) -> usize {
        self.index
    }

    /// The thread name configured with [`Builder::thread_name`](crate::Builder::thread_name),
    /// followed by `-` and the index.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The stack size configured with [`Builder::stack_size`](crate::Builder::stack_size).
    #[must_use]
    pub fn stack_size(&self) -> Option<usize> {
        self.stack_size
    }

    /// Runs the worker loop on the current thread until its pool shuts down.
    ///
    /// With [`Builder::idle_priority`](crate::Builder::idle_priority), it first lowers
    /// the thread's scheduling priority.
    pub fn run(self) {
        let WorkerThread {
            shared,
            index,
            idle_priority,
            ..
        } = self;
        if idle_priority {
            crate::raw::lower_current_thread_priority();
        }
        // The thread stays marked as a worker after the loop: anything it drops from
        // then on (its thread-locals included) is dropped inline.
        ROLE.with(|r| r.set(shared.id()));
        lock(&shared.threads).push(thread::current());
        worker_loop(&shared, index);
        let mut running = lock(&shared.running);
        *running -= 1;
        shared.running_changed.notify_all();
        drop(running);
    }
}

pub(crate) fn default_spawn(worker: WorkerThread) -> std::io::Result<()> {
    let mut b = thread::Builder::new().name(worker.name.clone());
    if let Some(size) = worker.stack_size {
        b = b.stack_size(size);
    }
    b.spawn(move || worker.run()).map(drop)
}

/// Spawns `threads` workers through `spawn`; returns how many started, or the error of
/// the first spawn when none did.
pub(crate) fn spawn_workers(
    shared: &Arc<Shared>,
    threads: usize,
    name: &str,
    stack_size: Option<usize>,
    idle_priority: bool,
    spawn: &mut dyn FnMut(WorkerThread) -> std::io::Result<()>,
) -> Result<usize, BuildError> {
    let mut started = 0;
    let mut first_error = None;
    for _ in 0..threads {
        // Indices go to the workers that start: if a spawn fails, the next worker takes
        // its index. Worker 0 must exist whenever any worker does, because it is the
        // one that never parks without a timeout (see `Idle::wait`); without it every
        // worker could sleep for good while a flush waits for room in a full queue.
        let index = started;
        // Count the worker as running before it starts, so a shutdown that races the
        // thread's start still waits for it.
        *lock(&shared.running) += 1;
        let worker = WorkerThread {
            shared: Arc::clone(shared),
            index,
            name: format!("{name}-{index}"),
            stack_size,
            idle_priority,
        };
        match spawn(worker) {
            Ok(()) => started += 1,
            Err(e) => {
                *lock(&shared.running) -= 1;
                first_error.get_or_insert(e);
            }
        }
    }
    shared.workers.store(started, Ordering::Release);
    match first_error {
        Some(e) if started == 0 => Err(BuildError::Spawn(e)),
        _ => Ok(started),
    }
}

fn worker_loop(shared: &Shared, index: usize) {
    let mut idle = Idle::default();
    let mut last_sweep = Instant::now();
    let mut duty = Duty::new(last_sweep);
    let mut follower = Follower::new(shared);
    loop {
        if let Some(v) = shared.steal(index) {
            idle.reset();
            duty.working();
            shared.run_on_worker(index, v);
            continue;
        }
        match shared.rx.try_recv() {
            Ok(Msg::Value(v)) => {
                idle.took_work(shared);
                duty.working();
                shared.run_on_worker(index, v);
                sweep_if_due(shared, index, &mut last_sweep, &mut duty, &mut follower);
            }
            Ok(Msg::Batch(batch, stage)) => {
                idle.took_work(shared);
                duty.working();
                shared.run_batch_on_worker(index, batch, &stage);
                sweep_if_due(shared, index, &mut last_sweep, &mut duty, &mut follower);
            }
            Ok(Msg::Flush(barrier)) => {
                idle.reset();
                // Everything the flush must cover is ahead of this token in the queue
                // (the flusher sends the staged values first), in a worker's hand, or
                // being dropped.
                barrier.arrive_and_wait();
            }
            Err(e @ (TryRecvError::Empty | TryRecvError::Disconnected)) => {
                // Disconnected: the last handle is gone (it closed the pool first).
                if e == TryRecvError::Disconnected || shared.closing.load(Ordering::SeqCst) {
                    // Sealing makes later values be dropped by their callers, and takes
                    // what the stages still hold.
                    shared.sweep_on_worker(index, true, &mut follower);
                    // Values a helper holds are taken at the top of the loop: a
                    // helper stuck in a destructor leaves them to the workers.
                    let helpers = shared.in_hand.len() - 1;
                    if shared.rx.is_empty() && shared.in_hand[helpers].lock().is_empty() {
                        return;
                    }
                    continue;
                }
                duty.idling(shared);
                if idle.about_to_sleep() {
                    let now = Instant::now();
                    last_sweep = now;
                    duty.look(shared, now);
                    if shared.sweep_on_worker(index, false, &mut follower) {
                        // Idle until `now`, busy with the stages' values since.
                        duty.working_since(now);
                        idle.reset();
                        continue;
                    }
                }
                if idle.wait(shared, index) && shared.inline_when_saturated {
                    duty.look(shared, Instant::now());
                }
            }
        }
    }
}

/// Busy with full stages from some threads, a worker takes the partly filled stages
/// of the others every [`SWEEP_EVERY`], so that their values do not wait for the
/// queue to run dry.
fn sweep_if_due(
    shared: &Shared,
    index: usize,
    last_sweep: &mut Instant,
    duty: &mut Duty,
    follower: &mut Follower,
) {
    let now = Instant::now();
    if now.duration_since(*last_sweep) >= SWEEP_EVERY {
        *last_sweep = now;
        duty.look(shared, now);
        shared.sweep_on_worker(index, false, follower);
    }
}

/// When the threads a saturated pool sent back to dropping inline hand values over
/// again (see `Builder::inline_when_saturated`).
struct Saturation {
    /// Per counter shard, the end of its hold, if it has one.
    until: [Option<Instant>; SHARD_COUNT],
    /// The length of the current or last hold.
    hold: Duration,
    /// When the last hold ended.
    ended: Option<Instant>,
}

impl Default for Saturation {
    fn default() -> Self {
        Saturation {
            until: [None; SHARD_COUNT],
            hold: SATURATION_HOLD,
            ended: None,
        }
    }
}

impl Saturation {
    /// Starts a hold for the shards in `streaming`; returns whether there were any.
    fn begin(&mut self, now: Instant, streaming: &[usize]) -> bool {
        if streaming.is_empty() {
            return false;
        }
        let relapse = self
            .ended
            .is_some_and(|ended| now.duration_since(ended) <= SATURATION_RELAPSE);
        let held = self.until.iter().any(Option::is_some);
        self.hold = if relapse || held {
            (self.hold * 2).min(SATURATION_HOLD_MAX)
        } else {
            SATURATION_HOLD
        };
        // Cannot overflow for a real clock; if it did, the hold would end at once.
        let until = now.checked_add(self.hold).unwrap_or(now);
        for &index in streaming {
            self.until[index] = Some(until);
        }
        true
    }

    /// Ends the holds that are over: returns the shards to clear, and whether any
    /// hold is still in force.
    fn expire(&mut self, now: Instant) -> (Vec<usize>, bool) {
        let mut over = Vec::new();
        for (index, until) in self.until.iter_mut().enumerate() {
            if until.is_some_and(|until| now >= until) {
                *until = None;
                over.push(index);
            }
        }
        let held = self.until.iter().any(Option::is_some);
        if !over.is_empty() && !held {
            self.ended = Some(now);
        }
        (over, held)
    }
}

/// A worker's record of its current [`SATURATION_WINDOW`]: how long it was idle
/// (spinning, yielding or asleep for want of work), and the pool's counts when the
/// window began (see `Builder::inline_when_saturated`).
///
/// The counts are read only while the worker is mostly busy: they sit on the
/// callers' counter lines, and a worker that read them while idle would make the
/// next hand-off of an occasional caller fetch its own line back. An idle window
/// drops the counts; the first millisecond in which the worker is mostly busy takes
/// them again, and starts a window.
struct Duty {
    start: Instant,
    /// Idle time in this window, up to `idle_since`.
    idle: Duration,
    /// When the worker last found no work, if it has found none since.
    idle_since: Option<Instant>,
    /// When the window began: values handed over per counter shard, and values
    /// dropped. `None` until the worker is mostly busy.
    counts: Option<([u64; SHARD_COUNT], u64)>,
    saturated_windows: u32,
}

impl Duty {
    fn new(now: Instant) -> Self {
        Duty {
            start: now,
            idle: Duration::ZERO,
            idle_since: None,
            counts: None,
            saturated_windows: 0,
        }
    }

    /// The worker found no work: it is idle from now (one clock reading per idle
    /// spell, none while it keeps finding work, and none at all when saturation is
    /// off, as under loom, where every reading moves the model's clock).
    #[inline]
    fn idling(&mut self, shared: &Shared) {
        if shared.inline_when_saturated && self.idle_since.is_none() {
            self.idle_since = Some(Instant::now());
        }
    }

    /// The worker found work: an idle spell, if any, ends now.
    #[inline]
    fn working(&mut self) {
        if self.idle_since.is_some() {
            self.working_since(Instant::now());
        }
    }

    /// An idle spell, if any, ended at `then`.
    fn working_since(&mut self, then: Instant) {
        if let Some(since) = self.idle_since.take() {
            self.idle += then.duration_since(since);
        }
    }

    /// Starts a new window at `now`; an idle spell in progress goes on in it. The
    /// caller sets `counts`.
    fn restart(&mut self, now: Instant) {
        let idle_spell = self.idle_since.map(|_| now);
        self.start = now;
        self.idle = Duration::ZERO;
        self.idle_since = idle_spell;
    }

    /// The callers' hand-off counts per shard, and the values dropped.
    fn read_counts(shared: &Shared) -> ([u64; SHARD_COUNT], u64) {
        (
            shared.counters.per_shard(CallerEvent::Deferred),
            shared.completed(),
        )
    }

    /// Called at least every millisecond while the worker is busy, and before and
    /// after each of its sleeps: ends the holds whose time is up, and closes the
    /// window once it is over, sending the streaming threads back to dropping inline
    /// after [`SATURATED_WINDOWS`] saturated windows in a row.
    fn look(&mut self, shared: &Shared, now: Instant) {
        if !shared.inline_when_saturated {
            return;
        }
        if shared.saturated.load(Ordering::Relaxed) {
            let mut saturation = lock(&shared.saturation);
            let (over, held) = saturation.expire(now);
            for index in over {
                shared.counters.set_saturated(index, false);
            }
            shared.saturated.store(held, Ordering::Relaxed);
        }
        let elapsed = now.duration_since(self.start);
        let Some((then_deferred, then_completed)) = self.counts else {
            // No counts yet: take them once the worker has been mostly busy for a
            // millisecond.
            if elapsed >= SWEEP_EVERY {
                self.working_since(now);
                let busy = self.idle < elapsed / 2;
                self.counts = busy.then(|| Self::read_counts(shared));
                self.restart(now);
            }
            return;
        };
        if elapsed < SATURATION_WINDOW {
            return;
        }
        // An idle spell in progress counts up to now, and goes on in the next window.
        self.working_since(now);
        // Idle includes spinning and yielding: a worker that keeps up with frequent
        // small values never sleeps, yet it is not saturated.
        let busy = self.idle < elapsed / 2 && shared.sleepers.load(Ordering::Relaxed) == 0;
        if !busy {
            self.saturated_windows = 0;
            self.counts = None;
            self.restart(now);
            return;
        }
        let (deferred, completed) = Self::read_counts(shared);
        let mut arrived = [0; SHARD_COUNT];
        for ((a, now), then) in arrived.iter_mut().zip(deferred).zip(then_deferred) {
            *a = now.wrapping_sub(then);
        }
        let total: u64 = arrived.iter().fold(0, |sum, a| sum.wrapping_add(*a));
        let dropped = completed.wrapping_sub(then_completed);
        if dropped > 0 && total.saturating_mul(2) >= dropped {
            self.saturated_windows += 1;
        } else {
            self.saturated_windows = 0;
        }
        if self.saturated_windows >= SATURATED_WINDOWS {
            self.saturated_windows = 0;
            let streaming: Vec<usize> = (0..SHARD_COUNT)
                .filter(|&i| arrived[i] >= STREAM_MIN && arrived[i].saturating_mul(4) >= total)
                .collect();
            if lock(&shared.saturation).begin(now, &streaming) {
                for &index in &streaming {
                    shared.counters.set_saturated(index, true);
                }
                shared.saturated.store(true, Ordering::Relaxed);
            }
        }
        self.counts = Some((deferred, completed));
        self.restart(now);
    }
}

/// Where a worker of a `Builder::follow_caller_cpu` pool runs: confined to a stage's
/// CPU while it takes and drops that stage's values, free to run on the CPUs it
/// started with otherwise.
struct Follower {
    /// The CPUs the worker started with (`None`: not known, or the pool does not
    /// follow, so the worker never moves).
    home: Option<CpuSet>,
    /// The CPU the worker is confined to now, if any.
    on: Option<u32>,
}

impl Follower {
    fn new(shared: &Shared) -> Self {
        Follower {
            home: if shared.follow {
                raw::current_affinity()
            } else {
                None
            },
            on: None,
        }
    }

    /// Confines the worker to `cpu`; it runs there when this returns (at idle
    /// priority: once that CPU is idle), and returns how long that took. A CPU
    /// unknown or outside the worker's own set is not followed (`None`).
    fn go_to(&mut self, cpu: u32) -> Option<Duration> {
        if cpu == NO_CPU || self.on == Some(cpu) || !self.home?.contains(cpu) {
            return None;
        }
        let start = Instant::now();
        if !raw::set_affinity(&CpuSet::only(cpu)) {
            return None;
        }
        self.on = Some(cpu);
        Some(Instant::now().duration_since(start))
    }

    /// Lets the worker run on the CPUs it started with again.
    fn go_home(&mut self) {
        if self.on.take().is_some() {
            if let Some(home) = &self.home {
                raw::set_affinity(home);
            }
        }
    }
}

/// A worker's idle back-off (see [`WARM_SLEEP_MAX`]).
#[derive(Default)]
struct Idle {
    empty_polls: u32,
    since: Option<Instant>,
    sleep: Duration,
    slept: bool,
}

impl Idle {
    /// The worker took a value (or a stage) off the queue.
    fn took_work(&mut self, shared: &Shared) {
        if self.slept && shared.rx.len() > 1 {
            // Other workers may be asleep with no timeout: share the backlog.
            shared.wake_others();
        }
        self.reset();
    }

    fn reset(&mut self) {
        self.empty_polls = 0;
        self.since = None;
        self.sleep = Duration::ZERO;
        self.slept = false;
    }

    /// Whether the next [`wait`](Self::wait) sleeps (rather than spins or yields).
    fn about_to_sleep(&self) -> bool {
        self.empty_polls >= SPIN_ROUNDS + YIELD_ROUNDS
    }

    /// One empty poll's wait: a spin, a yield or a sleep. Returns whether it slept.
    fn wait(&mut self, shared: &Shared, index: usize) -> bool {
        self.empty_polls += 1;
        if self.empty_polls <= SPIN_ROUNDS {
            for _ in 0..(1u32 << self.empty_polls.min(6)) {
                thread::spin_loop();
            }
            return false;
        }
        if self.empty_polls <= SPIN_ROUNDS + YIELD_ROUNDS {
            thread::yield_now();
            return false;
        }
        let now = Instant::now();
        let since = *self.since.get_or_insert(now);
        self.slept = true;
        shared.sleepers.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        // Checked after counting itself as asleep: see `Shared::wake_sleepers`.
        if shared.rx.is_empty() && !shared.closing.load(Ordering::SeqCst) {
            if now.duration_since(since) < WARM_WINDOW {
                self.sleep = (self.sleep * 2).clamp(FIRST_SLEEP, WARM_SLEEP_MAX);
                thread::park_timeout(self.sleep);
            } else {
                // Cold: callers that queue a value now wake us (`Bgdrop::drop`). That
                // check is a plain load, which can miss us in a race; worker 0's
                // timeout bounds the wait then.
                if shared.wake_cold {
                    shared.cold.fetch_add(1, Ordering::SeqCst);
                }
                if shared.rx.is_empty() {
                    if index == 0 {
                        thread::park_timeout(COLD_SLEEP);
                    } else {
                        thread::park();
                    }
                }
                if shared.wake_cold {
                    shared.cold.fetch_sub(1, Ordering::SeqCst);
                }
            }
        }
        shared.sleepers.fetch_sub(1, Ordering::SeqCst);
        true
    }
}
