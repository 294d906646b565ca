//! What a pool has done: the [`Stats`] snapshot, and the counters behind it.

use crate::FullPolicy;
use crate::sync::{AtomicU64, AtomicUsize, Ordering};
use std::cell::Cell;
use std::fmt;

/// A snapshot of a pool's counters, from [`Bgdrop::stats`](crate::Bgdrop::stats).
///
/// Every value handed to a pool is counted exactly once, in `deferred` or in one of the
/// `inline_*` counters. The counters are read one at a time while the pool keeps
/// working, so a snapshot taken under load can be a few values out of step; once the
/// pool is quiet (after [`flush`](crate::Bgdrop::flush) returns and no thread hands it
/// more values), `deferred == completed` and `pending == 0`.
///
/// # Examples
///
/// ```
/// let pool = bgdrop::Bgdrop::new();
/// pool.drop(vec![vec![0u8; 8]; 1000]);
/// pool.drop_if_costly(vec![1u8, 2, 3]); // too cheap: dropped here
/// pool.flush();
/// let stats = pool.stats();
/// assert_eq!(stats.deferred, 1);
/// assert_eq!(stats.completed, 1);
/// assert_eq!(stats.inline_cheap, 1);
/// assert_eq!(stats.pending, 0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Stats {
    /// Values handed to the workers (waiting in a stage or the queue, being dropped,
    /// or already dropped).
    pub deferred: u64,
    /// Values dropped on the caller's thread because their
    /// [`DropCost`](crate::DropCost) was under the threshold, or because dropping them
    /// runs no destructor at all.
    pub inline_cheap: u64,
    /// Values dropped on the caller's thread because the queue was full, or the
    /// caller was streaming into a saturated pool
    /// ([`Builder::inline_when_saturated`](crate::Builder::inline_when_saturated)),
    /// and the policy is [`FullPolicy::DropInline`].
    pub inline_full: u64,
    /// With [`Builder::follow_caller_cpu`](crate::Builder::follow_caller_cpu): values
    /// dropped on the caller's thread because its previous value was still waiting
    /// for a worker to reach its CPU, because the thread had not blocked since its
    /// previous value (it left its CPU no idle time), or because a worker had
    /// recently waited long there while the thread kept that CPU busy. Always 0 for
    /// other pools.
    pub inline_busy: u64,
    /// Values dropped on the caller's thread because the pool has no worker (none could
    /// be spawned).
    pub inline_no_worker: u64,
    /// Values dropped on the caller's thread because waiting for a worker could
    /// deadlock: the caller is itself a bgdrop worker (a destructor deferring more
    /// values), the caller's thread is exiting (a thread-local destructor), or the pool
    /// is shutting down.
    pub inline_reentrant: u64,
    /// Times a caller waited for room in a full queue under [`FullPolicy::Block`].
    pub blocked: u64,
    /// Destructors that finished on a worker, normally or by panicking.
    pub completed: u64,
    /// Deferred values not yet dropped: waiting in a stage or the queue, or being
    /// dropped right now.
    pub pending: u64,
    /// Destructors that panicked on a worker (included in `completed`).
    pub panicked: u64,
    /// Worker threads running.
    pub workers: usize,
    /// Queue capacity in values (`None` under [`FullPolicy::Grow`]).
    pub capacity: Option<usize>,
    /// What happens when the queue is full.
    pub policy: FullPolicy,
}

impl Stats {
    /// Values dropped on the caller's thread, for any reason.
    #[must_use]
    pub fn inline(&self) -> u64 {
        self.inline_cheap
            + self.inline_full
            + self.inline_busy
            + self.inline_no_worker
            + self.inline_reentrant
    }

    /// Every value handed to the pool: `deferred + inline()`.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.deferred + self.inline()
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "deferred {} (completed {}, pending {}, panicked {}), inline {} (cheap {}, full {}, busy {}, no worker {}, reentrant {}), blocked {}",
            self.deferred,
            self.completed,
            self.pending,
            self.panicked,
            self.inline(),
            self.inline_cheap,
            self.inline_full,
            self.inline_busy,
            self.inline_no_worker,
            self.inline_reentrant,
            self.blocked,
        )
    }
}

/// Why a value was dropped on the caller's thread (or why a caller waited).
#[derive(Clone, Copy)]
pub(crate) enum CallerEvent {
    Cheap = 0,
    Full = 1,
    NoWorker = 2,
    Reentrant = 3,
    Blocked = 4,
    /// Not an inline drop: a value handed to the workers (staged or queued).
    Deferred = 5,
    /// `Builder::follow_caller_cpu`: the thread's stage still held a value, or the
    /// thread is in a refusal (see `Stage::waited`).
    Busy = 6,
}

const EVENTS: usize = 7;

/// Number of per-thread shards; threads beyond this share one more, contended shard.
/// Under loom, 2: the models then cover both the owned shards and the shared one.
const SHARDS: usize = if cfg!(loom) { 2 } else { 32 };

/// The owned shards and the shared one.
pub(crate) const SHARD_COUNT: usize = SHARDS + 1;

/// One thread's counters, on a cache line of its own, and whether that thread is to
/// drop its values inline for now (`Builder::inline_when_saturated`): the thread
/// reads the flag on the line it writes anyway, and a worker writes it only when it
/// changes.
#[repr(align(128))]
struct Shard {
    events: [AtomicU64; EVENTS],
    /// A std atomic even under loom: a hint that only decides where a value is
    /// dropped, never set there.
    saturated: std::sync::atomic::AtomicBool,
}

impl Shard {
    fn new() -> Self {
        Shard {
            events: std::array::from_fn(|_| AtomicU64::new(0)),
            saturated: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

/// Counters bumped on the callers' threads.
///
/// Each of the first [`SHARDS`] threads that touches any pool owns one shard for the
/// life of the process, and bumps its own counters with a plain load and store (no
/// read-modify-write, no cache line shared with another thread). Later threads share
/// one more shard and use `fetch_add`.
///
/// The shards sit in the pool's own allocation, right after the line of fields every
/// hand-off reads (`Shared`): a thread's shard is then at a fixed offset from that
/// line, with no pointer to load in between, and most often on the same page. After
/// a pause each page a hand-off touches costs the caller a TLB miss.
pub(crate) struct CallerCounters {
    /// A fixed-size array: finding a thread's shard is one compare with a constant.
    owned: [Shard; SHARDS],
    shared: Shard,
}

crate::sync::thread_local! {
    /// Which shard this thread owns: `0` means not yet assigned, otherwise index + 1.
    static SHARD: Cell<usize> = const { Cell::new(0) };
}

/// The shard of the current thread: one thread-local read once assigned.
#[allow(
    clippy::inline_always,
    reason = "on the threshold path's cheap case; measured with callgrind"
)]
#[inline(always)]
fn thread_shard() -> usize {
    match SHARD.with(Cell::get) {
        0 => assign_shard(),
        v => v - 1,
    }
}

#[cold]
#[inline(never)]
fn assign_shard() -> usize {
    crate::sync::process_static! {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
    }
    let idx = NEXT.fetch_add(1, Ordering::Relaxed).min(SHARDS);
    SHARD.with(|s| s.set(idx + 1));
    idx
}

/// The current thread's counter shard (see [`CallerCounters::mine`]).
pub(crate) struct MyShard<'a> {
    shard: &'a Shard,
    /// Whether only this thread writes it.
    owned: bool,
}

impl MyShard<'_> {
    /// Whether this thread is to drop its values inline for now
    /// (`Builder::inline_when_saturated`).
    #[inline]
    pub(crate) fn saturated(&self) -> bool {
        self.shard
            .saturated
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Counts `event` on this thread's shard.
    #[inline]
    pub(crate) fn bump(&self, event: CallerEvent) {
        let c = &self.shard.events[event as usize];
        if self.owned {
            // Only this thread ever writes this shard: a load and a store cannot lose
            // an update, and readers see either the old or the new value.
            c.store(c.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        } else {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl CallerCounters {
    pub(crate) fn new() -> Self {
        CallerCounters {
            owned: std::array::from_fn(|_| Shard::new()),
            shared: Shard::new(),
        }
    }

    #[allow(
        clippy::inline_always,
        reason = "on the threshold path's cheap case; measured with callgrind"
    )]
    #[inline(always)]
    pub(crate) fn bump(&self, event: CallerEvent) {
        self.mine().bump(event);
    }

    /// [`bump`](Self::bump) for a thread that owns a shard already; returns `false`
    /// (counting nothing) otherwise, so that the caller can count through `bump` out
    /// of line. Calls nothing: on the threshold path's cheap case that spares the
    /// caller a stack frame.
    #[allow(
        clippy::inline_always,
        reason = "on the threshold path's cheap case; measured with callgrind"
    )]
    #[inline(always)]
    pub(crate) fn bump_owned(&self, event: CallerEvent) -> bool {
        let owned = SHARD.with(Cell::get).wrapping_sub(1);
        match self.owned.get(owned) {
            Some(shard) => {
                let c = &shard.events[event as usize];
                c.store(c.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    /// Takes back a [`bump`](Self::bump) of the same thread (a value counted as
    /// deferred that was not).
    #[inline]
    pub(crate) fn unbump(&self, event: CallerEvent) {
        if let Some(shard) = self.owned.get(thread_shard()) {
            let c = &shard.events[event as usize];
            c.store(c.load(Ordering::Relaxed).wrapping_sub(1), Ordering::Relaxed);
        } else {
            self.shared.events[event as usize].fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// The shards, the owned ones first and the shared one last (see
    /// [`SHARD_COUNT`]).
    fn shards(&self) -> impl Iterator<Item = &Shard> {
        self.owned.iter().chain(std::iter::once(&self.shared))
    }

    /// `event`'s count in each shard, in [`shards`](Self::shards) order.
    pub(crate) fn per_shard(&self, event: CallerEvent) -> [u64; SHARD_COUNT] {
        let mut counts = [0; SHARD_COUNT];
        for (count, shard) in counts.iter_mut().zip(self.shards()) {
            *count = shard.events[event as usize].load(Ordering::Relaxed);
        }
        counts
    }

    /// The current thread's shard, for a hand-off that reads its flag and then
    /// counts: one thread-local read for both.
    #[allow(
        clippy::inline_always,
        reason = "on the hand-off path, with the two uses that follow it"
    )]
    #[inline(always)]
    pub(crate) fn mine(&self) -> MyShard<'_> {
        match self.owned.get(thread_shard()) {
            Some(shard) => MyShard { shard, owned: true },
            None => MyShard {
                shard: &self.shared,
                owned: false,
            },
        }
    }

    /// Sets or clears the flag of shard `index` (in [`shards`](Self::shards) order).
    pub(crate) fn set_saturated(&self, index: usize, saturated: bool) {
        if let Some(shard) = self.shards().nth(index) {
            shard
                .saturated
                .store(saturated, std::sync::atomic::Ordering::Relaxed);
        }
    }

    pub(crate) fn sum(&self, event: CallerEvent) -> u64 {
        self.shards()
            .map(|s| s.events[event as usize].load(Ordering::Relaxed))
            .fold(0, u64::wrapping_add)
    }
}
