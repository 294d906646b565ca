//! The pool handle [`Bgdrop`], its [`Builder`], and the hand-off on the caller's path.

use crate::cost::{DEFAULT_THRESHOLD, DropCost};
use crate::raw::Erased;
use crate::stage::{self, Refused};
use crate::stats::{CallerEvent, Stats};
use crate::sync::channel::{self, Sender, TrySendError};
use crate::sync::time::{Duration, Instant};
use crate::sync::{Arc, Ordering};
use crate::worker::{self, Msg, Shared, WorkerThread};
use std::fmt;

/// The default queue capacity of a pool, in values.
///
/// A bounded queue caps the memory that values waiting for a worker can hold. With
/// 1024 slots, a producer that defers 16 KiB trees faster than the workers free them
/// holds at most about 16 MiB in the queue; values beyond that follow the pool's
/// [`FullPolicy`].
pub const DEFAULT_CAPACITY: usize = 1024;

/// Under [`FullPolicy::DropInline`], how many values a thread that found the queue
/// full drops inline, without trying the queue, before it tries again.
///
/// A failed attempt costs a cache-line transfer from the workers (about 100 ns on a
/// 2-vCPU EPYC) against about 7 ns for dropping a small value; skipping the next 32
/// values keeps a producer that outruns the workers within a few nanoseconds of
/// inline drops, while the workers still get a value whenever they have made room.
pub const FULL_BACKOFF: u32 = 32;

crate::sync::thread_local! {
    /// The pool (its `Shared` address) this thread last found full under
    /// `DropInline`, and how many more values to drop inline before trying again.
    static BACKOFF: std::cell::Cell<(usize, u32)> = const { std::cell::Cell::new((0, 0)) };
}

/// Whether the calling thread is backing off from `shared`'s full queue; counts the
/// value against the back-off if so.
///
/// The common case is one thread-local read: `LocalKey::with` with a closure that
/// does more than read is not always inlined, and an out-of-line call here cost the
/// derive's hand-off about 15 instructions (callgrind).
#[allow(
    clippy::inline_always,
    reason = "on every hand-off; measured with callgrind"
)]
#[inline(always)]
fn backing_off(shared: &Shared) -> bool {
    let (pool, left) = BACKOFF.with(std::cell::Cell::get);
    if left != 0 && pool == std::ptr::from_ref(shared).addr() {
        back_off_one(pool, left);
        true
    } else {
        false
    }
}

/// Counts one value against the calling thread's back-off.
#[cold]
#[inline(never)]
fn back_off_one(pool: usize, left: u32) {
    BACKOFF.with(|b| b.set((pool, left - 1)));
}

/// What a pool does with a value when its queue is full.
///
/// # Examples
///
/// ```
/// use bgdrop::{Bgdrop, FullPolicy};
///
/// let pool = Bgdrop::builder()
///     .capacity(64)
///     .when_full(FullPolicy::Block)
///     .build()
///     .expect("spawn a worker");
/// for _ in 0..1000 {
///     pool.drop(vec![0u64; 100]); // waits for room instead of dropping here
/// }
/// pool.flush();
/// assert_eq!(pool.stats().inline_full, 0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum FullPolicy {
    /// Drop the value on the caller's thread, as if bgdrop were not there: the caller
    /// pays the drop but never waits for a worker. The default; counted in
    /// [`Stats::inline_full`].
    ///
    /// A thread that finds the queue full also drops its next
    /// [`FULL_BACKOFF`] values for this pool inline without looking at the queue:
    /// under sustained overload, trying the contended queue for every value would
    /// cost the caller more than the drops it saves.
    #[default]
    DropInline,
    /// Wait until a worker makes room. Memory stays bounded and every value is
    /// dropped on a worker, but the caller can stall. Counted in [`Stats::blocked`].
    /// A caller that is itself a worker, or a pool that is shutting down, drops
    /// inline instead, so blocking never deadlocks.
    Block,
    /// Never full: the queue grows without bound. Memory held by queued values is
    /// then bounded only by how far the producer outruns the workers (the behaviour of
    /// bgdrop 0.1 and of `defer-drop`).
    Grow,
}

/// The error of [`Builder::build`]: no worker thread could be spawned.
#[derive(Debug)]
#[non_exhaustive]
pub enum BuildError {
    /// Spawning the first worker failed with this error.
    Spawn(std::io::Error),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::Spawn(e) => write!(f, "could not spawn any bgdrop worker thread: {e}"),
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BuildError::Spawn(e) => Some(e),
        }
    }
}

type SpawnHandler = Box<dyn FnMut(WorkerThread) -> std::io::Result<()>>;

/// Configures a pool: see [`Bgdrop::builder`].
///
/// # Examples
///
/// ```
/// use bgdrop::{Bgdrop, FullPolicy};
///
/// let pool = Bgdrop::builder()
///     .threads(2)
///     .capacity(4096)
///     .when_full(FullPolicy::DropInline)
///     .thread_name("frame-gc")
///     .threshold(256)
///     .build()?;
/// pool.drop(vec![String::new(); 10_000]);
/// # Ok::<(), bgdrop::BuildError>(())
/// ```
#[allow(
    clippy::struct_excessive_bools,
    reason = "independent switches, each set by a builder method of its own"
)]
pub struct Builder {
    pub(crate) threads: usize,
    pub(crate) capacity: usize,
    pub(crate) policy: FullPolicy,
    pub(crate) name: String,
    pub(crate) threshold: usize,
    pub(crate) stack_size: Option<usize>,
    pub(crate) idle_priority: bool,
    pub(crate) follow_caller_cpu: bool,
    pub(crate) wake_cold: bool,
    pub(crate) yield_when_full: bool,
    pub(crate) inline_when_saturated: bool,
    pub(crate) exit_timeout: Duration,
    spawn: Option<SpawnHandler>,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("threads", &self.threads)
            .field("capacity", &self.capacity)
            .field("policy", &self.policy)
            .field("name", &self.name)
            .field("threshold", &self.threshold)
            .field("stack_size", &self.stack_size)
            .field("idle_priority", &self.idle_priority)
            .field("follow_caller_cpu", &self.follow_caller_cpu)
            .field("wake_cold_workers", &self.wake_cold)
            .field("yield_when_full", &self.yield_when_full)
            .field("inline_when_saturated", &self.inline_when_saturated)
            .field("exit_timeout", &self.exit_timeout)
            .field("spawn_handler", &self.spawn.is_some())
            .finish()
    }
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            threads: 1,
            capacity: DEFAULT_CAPACITY,
            policy: FullPolicy::DropInline,
            name: "bgdrop".to_owned(),
            threshold: DEFAULT_THRESHOLD,
            stack_size: None,
            idle_priority: false,
            follow_caller_cpu: false,
            wake_cold: true,
            yield_when_full: true,
            inline_when_saturated: true,
            exit_timeout: crate::global::DEFAULT_EXIT_TIMEOUT,
            spawn: None,
        }
    }
}

impl Builder {
    /// The number of worker threads (default 1; 0 is taken as 1).
    ///
    /// One worker is enough for most programs: freeing memory is mostly bound by the
    /// allocator, and more workers compete with the caller for cores.
    #[must_use]
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// How many values may wait for a worker before [`when_full`](Self::when_full)
    /// applies (default [`DEFAULT_CAPACITY`]; 0 is taken as 1): values in the callers'
    /// stages and in the queue alike (see the crate docs, "How a value reaches a
    /// worker"). Ignored under [`FullPolicy::Grow`].
    #[must_use]
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// What happens to a value when the queue is full (default
    /// [`FullPolicy::DropInline`]).
    #[must_use]
    pub fn when_full(mut self, policy: FullPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The worker threads' name prefix (default `"bgdrop"`); workers are named
    /// `prefix-0`, `prefix-1`, and so on.
    #[must_use]
    pub fn thread_name(mut self, prefix: impl Into<String>) -> Self {
        self.name = prefix.into();
        self
    }

    /// The pool's threshold for [`Bgdrop::drop_if_costly`], in [`DropCost`] units
    /// (default [`DEFAULT_THRESHOLD`]).
    #[must_use]
    pub fn threshold(mut self, threshold: usize) -> Self {
        self.threshold = threshold;
        self
    }

    /// The worker threads' stack size in bytes (default: the platform's).
    #[must_use]
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = Some(bytes);
        self
    }

    /// Whether a value handed to a pool whose workers have been idle for over a second
    /// wakes one (default `true`).
    ///
    /// Workers poll the queue with a growing sleep; after a second without work they
    /// sleep 50 ms at a time, so that an idle pool costs 20 wake-ups a second. With
    /// this on, the first value handed over after such a pause wakes them: the caller
    /// pays one thread wake-up (about 10 µs here), once, and the value is freed within
    /// tens of microseconds instead of up to 50 ms later. A pool used at least once a
    /// second never gets there, so steady work never pays it. Turn it off when no
    /// hand-off may ever cost a system call, and memory may wait up to 50 ms.
    ///
    /// ```
    /// let pool = bgdrop::Bgdrop::builder().wake_cold_workers(false).build()?;
    /// pool.drop(vec![0u8; 1 << 20]); // never a syscall on this thread
    /// # Ok::<(), bgdrop::BuildError>(())
    /// ```
    #[must_use]
    pub fn wake_cold_workers(mut self, wake: bool) -> Self {
        self.wake_cold = wake;
        self
    }

    /// Whether workers pause while callers keep finding the pool full under
    /// [`FullPolicy::DropInline`] (default `true`).
    ///
    /// When producers outrun the workers, the values beyond the capacity are dropped
    /// by their callers anyway; a worker freeing the backlog at the same time slows
    /// those callers down, because both threads work the same allocator (with glibc
    /// malloc, a producer that outruns the worker ran at 3.1× its inline time with the
    /// worker freeing alongside). With this on, a caller that finds the pool full
    /// says so (once per [`FULL_BACKOFF`] values), and the workers pause until no
    /// caller has said so for 100 µs: the backlog, at most the capacity, waits until
    /// the burst is over. A flush, a shutdown and process exit do not wait for that.
    /// Turn it off to have the backlog freed during the burst.
    ///
    /// ```
    /// let pool = bgdrop::Bgdrop::builder().yield_when_full(false).build()?;
    /// # drop(pool);
    /// # Ok::<(), bgdrop::BuildError>(())
    /// ```
    #[must_use]
    pub fn yield_when_full(mut self, pause: bool) -> Self {
        self.yield_when_full = pause;
        self
    }

    /// Whether a thread that streams values into a saturated pool drops them itself
    /// for a while, under [`FullPolicy::DropInline`] (default `true`).
    ///
    /// Workers judge their load over windows of 10 ms. Two windows in a row in which
    /// a worker worked more than half the time (idle, asleep or polling for work,
    /// less than half) while values arrived at least half as fast as the pool dropped
    /// them make the pool *saturated*; the threads that handed over at least 64 values
    /// and a quarter of the arrivals in the last window are *streaming* into it.
    /// Those threads then drop their values themselves for 100 ms, counted in
    /// [`Stats::inline_full`](crate::Stats::inline_full) as when the queue is full,
    /// and hand them over again after that; if the pool saturates again at once, the
    /// next hold is twice as long, up to 1 s. Every other thread goes on handing its
    /// values over: a frame loop or a callback that hands over a few values at a time
    /// is never sent back, whatever else keeps the workers busy.
    ///
    /// Why: a producer that keeps a worker busy gains little from it, and with
    /// glibc's allocator both lose: the worker's frees contend with the producer's
    /// allocations, and such a producer ran at about 3× its inline time with every
    /// background dropper measured (1.0–1.2× with this on). A burst handed over at once
    /// never saturates a pool: nothing arrives while the workers work through it.
    ///
    /// Turn it off when a thread must never pay for a drop that a worker could have
    /// done, however hard it streams (the queue's capacity still bounds the backlog).
    ///
    /// ```
    /// let pool = bgdrop::Bgdrop::builder()
    ///     .inline_when_saturated(false)
    ///     .build()?;
    /// # drop(pool);
    /// # Ok::<(), bgdrop::BuildError>(())
    /// ```
    #[must_use]
    pub fn inline_when_saturated(mut self, inline: bool) -> Self {
        self.inline_when_saturated = inline;
        self
    }

    /// Runs the workers at the lowest scheduling priority (default `false`): Linux's
    /// `SCHED_IDLE` class, or nice 19 where that is refused; no effect on other
    /// systems.
    ///
    /// An idle-priority worker runs only when a core would otherwise be idle, so it
    /// never preempts your latency-critical threads, at the price of freeing memory
    /// later when every core is busy (values wait in the queue meanwhile, and the
    /// [`FullPolicy`] applies when it fills). Worth it when the program has fewer
    /// cores than busy threads; the README's performance section has measurements.
    #[must_use]
    pub fn idle_priority(mut self, idle: bool) -> Self {
        self.idle_priority = idle;
        self
    }

    /// Frees each thread's values on the CPU that thread ran on when it handed them
    /// over, and only while that CPU is idle (default `false`). For a loop that
    /// sleeps between frames, such as a game loop or an audio callback, on a machine
    /// whose allocator couples the threads (glibc's malloc).
    ///
    /// With it, the workers run at idle priority (as with
    /// [`idle_priority`](Self::idle_priority)); a thread's hand-off notes its CPU, and
    /// a worker moves to that CPU (Linux `sched_setaffinity`) before it takes the
    /// thread's values, so it frees them while that thread sleeps, from that CPU's
    /// caches, never while the thread allocates its next frame on another CPU. The
    /// worker is free to run anywhere again between values.
    ///
    /// Each thread holds at most one value waiting in its stage: a value handed over
    /// while the thread's previous one has not been taken yet (its CPU had no idle
    /// time since) is dropped right there, counted in [`Stats::inline_busy`]. So is
    /// a value handed over by a thread that has not blocked since its previous one
    /// (on 64-bit Linux, its count of voluntary context switches has not moved, read
    /// with one system call per value a worker could take): a thread that never
    /// sleeps leaves its CPU no idle time to free the value in.
    /// And when a worker had to wait over a millisecond for the thread's CPU while
    /// the thread kept it busy anyway, the worker leaves that CPU again and drops
    /// the value it came for on its own CPUs (the scheduler had given it a slice of
    /// the thread's time), and the thread drops its next 4 values itself, twice as
    /// many after each such wait in a row, up to 256, rather than have a worker
    /// wait on its CPU again. A loop that never sleeps thus drops its values
    /// itself, at about the speed it would without a pool, and never piles them up.
    ///
    /// Not for threads that hand over many values at once (most of a burst is
    /// dropped inline), nor under [`FullPolicy::Block`], which does not stage.
    /// [`Batch::release`](crate::Batch::release) and [`flush`](Bgdrop::flush) send
    /// values to the queue, where they are dropped on whichever CPU the worker is
    /// on. Elsewhere than on Linux the values are not moved between CPUs, and the
    /// rest holds.
    ///
    /// The values are freed in that CPU's idle time only. Where a worker had to wait
    /// over a millisecond for a thread's CPU while the thread was asleep (other
    /// threads kept the CPU busy), workers take that thread's next values where they
    /// are, as a pool that does not follow would: 4, then 8, up to 256. The option
    /// helps a loop that allocates its frame's values itself, which is where glibc
    /// couples the loop to a worker on another CPU; the demonstration's frame
    /// thread, which allocates nothing (another thread builds its maps and fills its
    /// idle time), did better with the default. Both are measured on the README's
    /// 2-vCPU machine with glibc: see its performance section.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = bgdrop::Bgdrop::builder().follow_caller_cpu(true).build()?;
    /// for frame in 0..3_u64 {
    ///     let map: std::collections::HashMap<u64, u64> = (0..10_000).map(|i| (i, frame)).collect();
    ///     pool.drop(map);
    ///     std::thread::sleep(std::time::Duration::from_millis(1)); // the rest of the frame
    /// }
    /// pool.flush();
    /// let stats = pool.stats();
    /// assert_eq!(stats.deferred + stats.inline_busy, 3);
    /// # Ok::<(), bgdrop::BuildError>(())
    /// ```
    #[must_use]
    pub fn follow_caller_cpu(mut self, follow: bool) -> Self {
        self.follow_caller_cpu = follow;
        self
    }

    /// For the global pool only (see [`install_global`](Self::install_global)): how
    /// long process exit waits for queued values to be dropped (default
    /// [`DEFAULT_EXIT_TIMEOUT`](crate::DEFAULT_EXIT_TIMEOUT)).
    #[must_use]
    pub fn exit_timeout(mut self, timeout: Duration) -> Self {
        self.exit_timeout = timeout;
        self
    }

    /// Starts worker threads with `handler` instead of [`std::thread::Builder`].
    ///
    /// The handler gets one [`WorkerThread`] per worker and must run it on a new
    /// thread, returning an error if it cannot. A handler that returns `Ok` without
    /// ever running the worker leaves the pool waiting for it: its shutdown (the drop
    /// of the last handle) then never returns. Use it to pin workers to cores, set
    /// their priority, or register them with a profiler.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = bgdrop::Bgdrop::builder()
    ///     .threads(2)
    ///     .spawn_handler(|worker| {
    ///         std::thread::Builder::new()
    ///             .name(worker.name().to_owned())
    ///             .spawn(move || worker.run())
    ///             .map(drop)
    ///     })
    ///     .build()?;
    /// assert_eq!(pool.stats().workers, 2);
    /// # Ok::<(), bgdrop::BuildError>(())
    /// ```
    #[must_use]
    pub fn spawn_handler<F>(mut self, handler: F) -> Self
    where
        F: FnMut(WorkerThread) -> std::io::Result<()> + 'static,
    {
        self.spawn = Some(Box::new(handler));
        self
    }

    /// Builds the pool and starts its workers.
    ///
    /// # Errors
    ///
    /// [`BuildError::Spawn`] when not a single worker thread could be spawned. When
    /// some but not all could, the pool runs with those that did
    /// ([`Stats::workers`]).
    pub fn build(self) -> Result<Bgdrop, BuildError> {
        let (pool, error) = self.build_degraded();
        match error {
            Some(e) => Err(e),
            None => Ok(pool),
        }
    }

    /// Builds the pool, or, if not a single worker thread can be spawned, a pool that
    /// drops every value on the caller's thread (counted in
    /// [`Stats::inline_no_worker`]). Never fails; [`Bgdrop::new`] and
    /// [`Bgdrop::with_threads`] use it.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = bgdrop::Bgdrop::builder()
    ///     .spawn_handler(|_| Err(std::io::Error::other("no threads here")))
    ///     .build_or_inline();
    /// pool.drop(vec![String::new(); 100]); // dropped right here
    /// assert_eq!(pool.stats().inline_no_worker, 1);
    /// ```
    #[must_use]
    pub fn build_or_inline(self) -> Bgdrop {
        self.build_degraded().0
    }

    /// Builds the pool; if no worker can be spawned, returns a pool that drops
    /// everything inline, with the error.
    pub(crate) fn build_degraded(mut self) -> (Bgdrop, Option<BuildError>) {
        let (tx, rx) = match self.policy {
            FullPolicy::Grow => channel::unbounded(),
            _ => channel::bounded(self.capacity),
        };
        let capacity = (self.policy != FullPolicy::Grow).then_some(self.capacity);
        let shared = Arc::new(Shared::new(rx, capacity, &self));
        let mut spawn = self.spawn.take();
        let handler: &mut dyn FnMut(WorkerThread) -> std::io::Result<()> = match spawn.as_mut() {
            Some(h) => h,
            None => &mut worker::default_spawn,
        };
        let result = worker::spawn_workers(
            &shared,
            self.threads,
            &self.name,
            self.stack_size,
            self.idle_priority || shared.follow,
            handler,
        );
        let pool = Bgdrop {
            shared: Arc::clone(&shared),
            inner: Arc::new(Handle {
                tx,
                threshold: shared.threshold,
                shared,
            }),
        };
        (pool, result.err())
    }

    /// Builds this pool and makes it the global one, used by [`global`](fn@crate::global),
    /// [`defer`](crate::defer), [`Deferred`](crate::Deferred) and the derive.
    ///
    /// # Errors
    ///
    /// [`InstallError::AlreadyStarted`](crate::InstallError::AlreadyStarted) if the
    /// global pool was already started (by an earlier `install_global` or by its
    /// first use), and [`InstallError::Build`](crate::InstallError::Build) if no
    /// worker could be spawned.
    ///
    /// # Examples
    ///
    /// ```
    /// fn main() -> Result<(), bgdrop::InstallError> {
    ///     bgdrop::Bgdrop::builder().threads(2).capacity(8192).install_global()?;
    ///     bgdrop::defer(vec![vec![0u8; 64]; 10_000]);
    ///     Ok(())
    /// }
    /// ```
    pub fn install_global(self) -> Result<&'static Bgdrop, crate::InstallError> {
        crate::global::install(self)
    }
}

/// A handle to a pool of worker threads that drop values handed to them.
///
/// Clones share the same workers and queue. When the last handle is dropped, the pool
/// stops taking values, its workers drop everything still queued, and the drop of that
/// last handle returns only after they have exited: no value is lost.
///
/// Most programs do not need their own pool: [`defer`](crate::defer) and
/// [`Deferred`](crate::Deferred) use the [global](fn@crate::global) one.
///
/// # Examples
///
/// ```
/// use bgdrop::Bgdrop;
///
/// let pool = Bgdrop::new();
/// let big: Vec<Vec<u32>> = (0..10_000).map(|i| vec![i; 4]).collect();
/// pool.drop(big); // returns at once; a worker frees the 10 001 allocations
///
/// let shared = pool.clone(); // same worker thread
/// std::thread::spawn(move || shared.drop(String::from("from another thread")))
///     .join()
///     .unwrap();
/// pool.flush();
/// assert_eq!(pool.stats().completed, 2);
/// ```
#[derive(Clone)]
pub struct Bgdrop {
    inner: Arc<Handle>,
    /// The pool's state, also reachable through `inner`: a hand-off reads it straight
    /// from the handle, one dependent load (and, after a pause, one cache miss) fewer.
    shared: Arc<Shared>,
}

/// The part of a pool that handles own; dropping the last one shuts the pool down.
struct Handle {
    tx: Sender<Msg>,
    shared: Arc<Shared>,
    /// A copy of `shared.threshold`, one load closer to `drop_if_costly`.
    threshold: usize,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.close();
        self.shared.wait_for_workers_to_exit();
        // A worker that dropped the last handle from inside a destructor is still in
        // its loop; it drains what is left once that destructor returns. Anything a
        // racing caller queued after the workers left is dropped here.
        if !self.shared.on_own_worker() {
            self.shared.drain_here(None);
        }
    }
}

impl Default for Bgdrop {
    /// Same as [`Bgdrop::new`].
    fn default() -> Self {
        Bgdrop::new()
    }
}

impl fmt::Debug for Bgdrop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bgdrop")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Bgdrop {
    /// A pool with one worker thread and the default settings.
    ///
    /// Never fails: if the thread cannot be spawned, the pool drops every value on the
    /// caller's thread (counted in [`Stats::inline_no_worker`]). Use
    /// [`Bgdrop::builder`] to get the error instead.
    ///
    /// # Examples
    ///
    /// ```
    /// let dropper = bgdrop::Bgdrop::new();
    /// dropper.drop(vec![0u8; 10_000_000]);
    /// ```
    #[must_use]
    pub fn new() -> Self {
        Bgdrop::builder().build_or_inline()
    }

    /// A pool with `threads` worker threads (at least one) and the default settings.
    /// Never fails, like [`Bgdrop::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = bgdrop::Bgdrop::with_threads(4);
    /// for _ in 0..10 {
    ///     pool.drop(vec![0u8; 1_000_000]);
    /// }
    /// ```
    #[must_use]
    pub fn with_threads(threads: usize) -> Self {
        Bgdrop::builder().threads(threads).build_or_inline()
    }

    /// A [`Builder`] with the default settings: one worker, a queue of
    /// [`DEFAULT_CAPACITY`] values, [`FullPolicy::DropInline`], threshold
    /// [`DEFAULT_THRESHOLD`].
    #[must_use]
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Hands `value` to a worker, which drops it.
    ///
    /// Returns at once; the caller pays a move into its own stage for this pool (values
    /// of up to three machine words, such as a `Vec`, a `String` or a `Box`, travel
    /// without an allocation; larger ones are boxed), and every 128 values
    /// one message to the queue. The value is instead dropped right
    /// here when dropping it runs no code at all, when the pool has no worker, when the
    /// caller is itself a bgdrop worker or the pool is shutting down (waiting then
    /// could deadlock), and when the queue is full under [`FullPolicy::DropInline`].
    /// [`Stats`] counts each case. The first value handed to a pool idle for over a
    /// second also wakes a worker (one futex wake), unless
    /// [`Builder::wake_cold_workers`] is off.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = bgdrop::Bgdrop::new();
    /// let map: std::collections::HashMap<u32, String> =
    ///     (0..100_000).map(|i| (i, i.to_string())).collect();
    /// pool.drop(map);
    /// ```
    #[inline]
    pub fn drop<T: Send + 'static>(&self, value: T) {
        let shared = &*self.shared;
        if !std::mem::needs_drop::<T>() {
            shared.counters.bump(CallerEvent::Cheap);
            return;
        }
        if shared.workers.load(Ordering::Relaxed) == 0 {
            self.drop_here(value, CallerEvent::NoWorker);
            return;
        }
        if !worker::thread_may_defer() || shared.closing.load(Ordering::Relaxed) {
            self.drop_here(value, CallerEvent::Reentrant);
            return;
        }
        self.hand_over(value);
    }

    /// Drops `value` on the calling thread, counted as `why`: the ways out of
    /// [`drop`](Self::drop) that hand nothing over. Out of line, so that the hand-off's
    /// own instructions sit in a few consecutive cache lines: after a pause, each
    /// line of it is a cache miss on the caller's path.
    #[cold]
    #[inline(never)]
    fn drop_here<T>(&self, value: T, why: CallerEvent) {
        self.shared.counters.bump(why);
        drop(value);
    }

    /// [`drop`](Self::drop) after its checks that the pool has a worker, that this
    /// thread may wait for one and that the pool is not closing: the derive's
    /// expansion makes them once, in [`may_defer`](Self::may_defer), before it takes
    /// the fields, and ships them here without making them again. A pool that starts
    /// closing in between seals this thread's stage, which hands the value back to be
    /// dropped here, as it does for [`drop`](Self::drop).
    #[inline]
    pub(crate) fn hand_over<T: Send + 'static>(&self, value: T) {
        let shared = &*self.shared;
        let mine = shared.counters.mine();
        if mine.saturated() || backing_off(shared) {
            self.drop_here(value, CallerEvent::Full);
            return;
        }
        if !shared.staging {
            self.send_unstaged(value);
            return;
        }
        // Counted first: a worker may take the value from the stage before this
        // thread returns, and `completed` must never pass `deferred` for long.
        mine.bump(CallerEvent::Deferred);
        match stage::push(
            shared.id(),
            &shared.stages,
            &self.inner.tx,
            &shared.closing,
            value,
        ) {
            Ok(()) => self.after_queued(),
            Err((why, value)) => self.not_staged(value, why),
        }
    }

    /// What happens to a value that could not be staged (`None`: it was dropped
    /// already, by a thread whose thread-locals are being destroyed).
    #[cold]
    #[inline(never)]
    fn not_staged<T: Send + 'static>(&self, value: Option<T>, why: Refused) {
        let shared = &*self.shared;
        shared.counters.unbump(CallerEvent::Deferred);
        let Some(value) = value else {
            shared.counters.bump(CallerEvent::Reentrant);
            return;
        };
        match why {
            Refused::Full => self.on_full(Msg::Value(Erased::new(value))),
            Refused::Closing => {
                shared.counters.bump(CallerEvent::Reentrant);
                drop(value);
            }
            // `Builder::follow_caller_cpu`: this thread's previous value is still
            // waiting for its CPU to be idle.
            Refused::Busy => {
                shared.counters.bump(CallerEvent::Busy);
                drop(value);
            }
            Refused::Unstaged | Refused::Elsewhere => self.send_alone(Erased::new(value)),
        }
    }

    /// A value is in the queue or a stage: if a worker is in its cold sleep, wake it.
    #[inline]
    fn after_queued(&self) {
        // A worker idle for over a second sleeps up to 50 ms at a time: wake it rather
        // than leave the value waiting. Busy or recently busy workers never go cold,
        // so the steady state pays only this load.
        let shared = &*self.shared;
        if shared.cold.load(Ordering::Relaxed) != 0 {
            shared.wake_cold();
        }
    }

    /// [`send_alone`](Self::send_alone) for a pool that does not stage
    /// (`FullPolicy::Block`), out of line for the same reason as
    /// [`drop_here`](Self::drop_here).
    #[cold]
    #[inline(never)]
    fn send_unstaged<T: Send + 'static>(&self, value: T) {
        self.send_alone(Erased::new(value));
    }

    /// Queues one value as a message of its own: for a pool that does not stage
    /// (`FullPolicy::Block`), or a thread that cannot stage for it.
    #[inline(never)]
    fn send_alone(&self, value: Erased) {
        let shared = &*self.shared;
        if shared.stages.reserve(1) == 0 {
            self.on_full(Msg::Value(value));
            return;
        }
        shared.counters.bump(CallerEvent::Deferred);
        match self.inner.tx.try_send(Msg::Value(value)) {
            Ok(()) => self.after_queued(),
            Err(TrySendError::Full(msg)) => {
                shared.counters.unbump(CallerEvent::Deferred);
                shared.stages.release(1);
                self.on_full(msg);
            }
            Err(TrySendError::Disconnected(msg)) => {
                shared.counters.unbump(CallerEvent::Deferred);
                shared.stages.release(1);
                shared.counters.bump(CallerEvent::NoWorker);
                drop(msg);
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn on_full(&self, msg: Msg) {
        let shared = &*self.shared;
        // The workers may be asleep; they never are woken on the fast path.
        shared.wake_sleepers();
        match shared.policy {
            FullPolicy::Block => {
                shared.counters.bump(CallerEvent::Blocked);
                shared.counters.bump(CallerEvent::Deferred);
                if let Err(e) = self.inner.tx.send(msg) {
                    shared.counters.unbump(CallerEvent::Deferred);
                    shared.counters.bump(CallerEvent::NoWorker);
                    drop(e.into_inner());
                }
            }
            FullPolicy::DropInline | FullPolicy::Grow => {
                shared.counters.bump(CallerEvent::Full);
                // Workers pause while this keeps moving (`Builder::yield_when_full`).
                shared.overloads.fetch_add(1, Ordering::Relaxed);
                if shared.policy == FullPolicy::DropInline && FULL_BACKOFF > 0 {
                    let me = std::ptr::from_ref(shared).addr();
                    BACKOFF.with(|b| b.set((me, FULL_BACKOFF)));
                }
                drop(msg);
            }
        }
    }

    /// Drops `value` here if its [`DropCost`] is under the pool's threshold
    /// ([`Builder::threshold`], default [`DEFAULT_THRESHOLD`]), and hands it to a
    /// worker otherwise, as [`drop`](Self::drop) does.
    ///
    /// Use it where values of very different sizes pass through one place: small
    /// values are cheaper to drop than to hand off.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = bgdrop::Bgdrop::new();
    /// pool.drop_if_costly(vec![1u8, 2, 3]); // cost 1: dropped here
    /// pool.drop_if_costly(vec![String::new(); 500]); // cost 501: deferred
    /// pool.flush();
    /// let stats = pool.stats();
    /// assert_eq!((stats.inline_cheap, stats.deferred), (1, 1));
    /// ```
    #[allow(
        clippy::inline_always,
        reason = "a call here costs more than the check it makes: see `drop_with_threshold`"
    )]
    #[inline(always)]
    pub fn drop_if_costly<T: DropCost + Send + 'static>(&self, value: T) {
        self.drop_with_threshold(value, self.inner.threshold);
    }

    /// Like [`drop_if_costly`](Self::drop_if_costly), with an explicit threshold.
    // Always inlined: what stays inline is a compare, a thread-local read and an
    // increment (the costly and unowned cases are calls already). With `#[inline]`
    // alone, criterion's loop called it, and the call cost about 1 ns per value.
    #[allow(
        clippy::inline_always,
        reason = "a call here costs more than the check it makes (see the comment)"
    )]
    #[inline(always)]
    pub fn drop_with_threshold<T: DropCost + Send + 'static>(&self, value: T, threshold: usize) {
        if value.drop_cost() < threshold {
            if self.shared.counters.bump_owned(CallerEvent::Cheap) {
                drop(value);
            } else {
                self.drop_cheap_unowned(value);
            }
        } else {
            self.drop_costly(value);
        }
    }

    /// The cheap case for a thread without a counter shard of its own yet (its first
    /// values, or one of many threads): out of line and called last, so that the
    /// common case calls nothing before the value's own drop and needs no stack frame.
    #[cold]
    #[inline(never)]
    fn drop_cheap_unowned<T>(&self, value: T) {
        self.shared.counters.bump(CallerEvent::Cheap);
        drop(value);
    }

    /// [`drop`](Self::drop), kept out of line so that the threshold path's common
    /// case (a cheap value dropped here) needs no stack frame for the hand-off.
    #[inline(never)]
    fn drop_costly<T: Send + 'static>(&self, value: T) {
        self.drop(value);
    }

    /// The pool's threshold for [`drop_if_costly`](Self::drop_if_costly).
    #[must_use]
    pub fn threshold(&self) -> usize {
        self.shared.threshold
    }

    /// Blocks until every value handed to this pool before the call, from any thread,
    /// has been dropped.
    ///
    /// Values handed over while `flush` waits may or may not be included. On a bgdrop
    /// worker thread (inside a destructor the pool is running) `flush` returns at once,
    /// because waiting there could wait for itself.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
    /// static DROPPED: AtomicBool = AtomicBool::new(false);
    /// struct Noisy;
    /// impl Drop for Noisy {
    ///     fn drop(&mut self) {
    ///         DROPPED.store(true, SeqCst);
    ///     }
    /// }
    ///
    /// let pool = bgdrop::Bgdrop::new();
    /// pool.drop(Noisy);
    /// pool.flush();
    /// assert!(DROPPED.load(SeqCst));
    /// ```
    pub fn flush(&self) {
        self.shared.flush(&self.inner.tx, None);
    }

    /// Like [`flush`](Self::flush), giving up after `timeout`. Returns whether every
    /// value handed over before the call was dropped in time (`false` on a worker
    /// thread, where it does not wait).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let pool = bgdrop::Bgdrop::new();
    /// pool.drop(vec![vec![0u8; 16]; 1000]);
    /// assert!(pool.flush_timeout(Duration::from_secs(10)));
    /// ```
    #[must_use = "the result says whether the flush finished"]
    pub fn flush_timeout(&self, timeout: Duration) -> bool {
        let deadline = Instant::now().checked_add(timeout);
        self.shared.flush(&self.inner.tx, deadline)
    }

    /// A snapshot of the pool's counters.
    #[must_use]
    pub fn stats(&self) -> Stats {
        let s = &*self.shared;
        let completed = s.completed();
        let panicked = s.panicked();
        let deferred = s.counters.sum(CallerEvent::Deferred);
        Stats {
            deferred,
            // Counted on the caller before the value can reach a worker, so `completed`
            // passes `deferred` only in a snapshot taken mid-hand-off.
            pending: deferred.saturating_sub(completed),
            inline_cheap: s.counters.sum(CallerEvent::Cheap),
            inline_full: s.counters.sum(CallerEvent::Full),
            inline_busy: s.counters.sum(CallerEvent::Busy),
            inline_no_worker: s.counters.sum(CallerEvent::NoWorker),
            inline_reentrant: s.counters.sum(CallerEvent::Reentrant),
            blocked: s.counters.sum(CallerEvent::Blocked),
            completed,
            panicked,
            workers: s.running(),
            capacity: s.capacity,
            policy: s.policy,
        }
    }

    /// Whether a value handed over now would go to a worker rather than be dropped
    /// here for lack of one or to avoid a deadlock (queue space aside).
    #[inline]
    pub(crate) fn may_defer(&self) -> bool {
        let shared = &*self.shared;
        shared.workers.load(Ordering::Relaxed) != 0
            && worker::thread_may_defer()
            && !shared.closing.load(Ordering::Relaxed)
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Whether two handles share one pool.
    #[must_use]
    pub fn same_pool(&self, other: &Bgdrop) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}
