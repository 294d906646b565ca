//! Loom models of every synchronisation protocol of the crate, run on the real pool
//! code through the `crate::sync` shim:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
//!     cargo test -p bgdrop@0.2.0 --features async --lib --release loom
//! ```
//!
//! Loom runs each model under every interleaving (up to a preemption bound) and every
//! outcome the C++11 memory model allows for its atomics, and fails on a deadlock, a
//! failed assertion, or a model that never ends. Values record their own drop in a
//! [`Ledger`] with `Relaxed` atomics, so reading "dropped" proves more than "the
//! destructor ran at some point": a `Relaxed` load may return any value not ordered
//! before it, so it sees the drop only if the drop *happens-before* the read.
//!
//! What the shim models and what it does not is said in `crate::sync`: the channel is
//! a linearizable model of crossbeam-channel, time advances only when read, a timed
//! wait or park is a wait whose timeout fires at once.
//!
//! Configurations are small (1–3 workers, capacity 1–2, 1–3 values, a preemption
//! bound of 2), which is where such protocols break: a bug that needs more threads or
//! more preemptions is rare, and the behaviour tests in `tests/` run the same code
//! with real threads at scale.

use crate::sync::time::Duration;
use crate::sync::{Arc, AtomicBool, AtomicUsize, Ordering};
use crate::worker::{FlushBarrier, Shared, WorkerThread, on_any_worker};
use crate::{Bgdrop, FullPolicy, Slot};
use loom::thread;
use std::cell::RefCell;
use std::rc::Rc;

/// Runs `f` under loom with a preemption bound of 2.
fn model<F: Fn() + Sync + Send + 'static>(f: F) {
    model_bounded(2, f);
}

/// Runs `f` under loom with a preemption bound of `bound`: the models with two
/// polling workers use 1, or their state space takes hours.
fn model_bounded<F: Fn() + Sync + Send + 'static>(bound: usize, f: F) {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(bound);
    b.check(f);
}

const NOT_DROPPED: usize = 0;
const ON_CALLER: usize = 1;
const ON_WORKER: usize = 2;

/// Where each value of a model was dropped.
struct Ledger(Vec<AtomicUsize>);

impl Ledger {
    fn new(values: usize) -> Arc<Ledger> {
        Arc::new(Ledger(
            (0..values).map(|_| AtomicUsize::new(NOT_DROPPED)).collect(),
        ))
    }

    /// Where value `i` was dropped, as far as this thread can know: `NOT_DROPPED`
    /// unless the drop happens-before this call.
    fn state(&self, i: usize) -> usize {
        self.0[i].load(Ordering::Relaxed)
    }

    fn dropped(&self, i: usize) -> bool {
        self.state(i) != NOT_DROPPED
    }

    fn count(&self, state: usize) -> usize {
        (0..self.0.len())
            .filter(|&i| self.state(i) == state)
            .count()
    }

    fn assert_all_dropped(&self) {
        for i in 0..self.0.len() {
            assert!(self.dropped(i), "value {i} was never dropped");
        }
    }
}

/// A value that records its drop in a ledger.
struct Val(Arc<Ledger>, usize);

impl Drop for Val {
    fn drop(&mut self) {
        let at = if on_any_worker() {
            ON_WORKER
        } else {
            ON_CALLER
        };
        // A read-modify-write sees every earlier write: this catches a double drop.
        let before = self.0.0[self.1].swap(at, Ordering::Relaxed);
        assert_eq!(before, NOT_DROPPED, "value {} dropped twice", self.1);
    }
}

fn val(ledger: &Arc<Ledger>, i: usize) -> Val {
    Val(Arc::clone(ledger), i)
}

fn pool(threads: usize, capacity: usize, policy: FullPolicy) -> Bgdrop {
    Bgdrop::builder()
        .threads(threads)
        .capacity(capacity)
        .when_full(policy)
        .build()
        .expect("loom spawns threads")
}

/// The join handles of a pool's workers, so a model can prove that they all leave.
type Joins = Rc<RefCell<Vec<thread::JoinHandle<()>>>>;

/// A pool whose workers can be joined; the spawn attempts (counted from 0) listed in
/// `fail` fail.
fn joinable_pool(
    threads: usize,
    capacity: usize,
    policy: FullPolicy,
    fail: &'static [usize],
) -> (Bgdrop, Joins) {
    let joins = Joins::default();
    let j = Rc::clone(&joins);
    let mut attempt = 0;
    let pool = Bgdrop::builder()
        .threads(threads)
        .capacity(capacity)
        .when_full(policy)
        .spawn_handler(move |w: WorkerThread| {
            attempt += 1;
            if fail.contains(&(attempt - 1)) {
                return Err(std::io::Error::other("spawn refused by the model"));
            }
            j.borrow_mut().push(thread::spawn(move || w.run()));
            Ok(())
        })
        .build()
        .expect("a worker spawns");
    (pool, joins)
}

fn join_all(joins: &Joins) {
    for j in joins.borrow_mut().drain(..) {
        j.join().expect("a worker never panics");
    }
}

// ---------------------------------------------------------------------------------
// The flush barrier on its own.

/// The barrier opens only after every worker arrived.
#[test]
fn loom_barrier_opens_only_after_every_worker_arrived() {
    loom::model(|| {
        let barrier = Arc::new(FlushBarrier::new(2));
        let arrived = Arc::new(AtomicUsize::new(0));
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let (b, a) = (Arc::clone(&barrier), Arc::clone(&arrived));
                thread::spawn(move || {
                    a.fetch_add(1, Ordering::SeqCst);
                    b.arrive_and_wait();
                })
            })
            .collect();
        assert!(barrier.wait(None));
        assert_eq!(arrived.load(Ordering::SeqCst), 2);
        for w in workers {
            w.join().unwrap();
        }
    });
}

/// A flusher that gives up releases the workers waiting at its barrier, and a token
/// taken afterwards does not wait.
#[test]
fn loom_abandoning_releases_workers_waiting_at_the_barrier() {
    loom::model(|| {
        let barrier = Arc::new(FlushBarrier::new(3));
        let waiting = {
            let b = Arc::clone(&barrier);
            thread::spawn(move || b.arrive_and_wait())
        };
        barrier.abandon();
        waiting.join().unwrap();
        barrier.arrive_and_wait();
    });
}

/// A thread draining at exit takes tokens without waiting, and the barrier still
/// opens.
#[test]
fn loom_a_draining_thread_can_take_tokens_without_waiting() {
    loom::model(|| {
        let barrier = Arc::new(FlushBarrier::new(2));
        let worker = {
            let b = Arc::clone(&barrier);
            thread::spawn(move || b.arrive_and_wait())
        };
        barrier.arrive();
        assert!(barrier.wait(None));
        worker.join().unwrap();
    });
}

// ---------------------------------------------------------------------------------
// 1. Flush racing producers.

/// One producer hands a value over while the main thread hands over another and
/// flushes a pool of `workers` workers (room for two): after `flush` returns, every
/// value handed over before the call (happens-before: here through `sent`) has been
/// dropped and its drop is visible to the flusher.
fn flush_races_a_producer(workers: usize) {
    let ledger = Ledger::new(2);
    let pool = pool(workers, 2, FullPolicy::DropInline);
    let sent = Arc::new(AtomicBool::new(false));
    let producer = {
        let (pool, ledger, sent) = (pool.clone(), Arc::clone(&ledger), Arc::clone(&sent));
        thread::spawn(move || {
            pool.drop(val(&ledger, 0));
            sent.store(true, Ordering::Release);
        })
    };
    pool.drop(val(&ledger, 1));
    let before = sent.load(Ordering::Acquire);
    pool.flush();
    assert!(ledger.dropped(1));
    if before {
        assert!(ledger.dropped(0));
    }
    producer.join().unwrap();
    drop(pool);
    ledger.assert_all_dropped();
}

/// [`flush_races_a_producer`] with one worker.
#[test]
fn loom_flush_covers_values_handed_over_before_it() {
    model(|| flush_races_a_producer(1));
}

/// The same with two workers: the flush queues a token per worker, and a worker that
/// takes one waits at the barrier until the other has finished its value.
#[test]
fn loom_flush_with_two_workers_and_a_racing_producer() {
    model_bounded(1, || flush_races_a_producer(2));
}

/// A flush that times out (a zero timeout, or a token that does not fit in a full
/// queue) abandons its barrier: it returns, the workers are not held, nothing is lost.
#[test]
fn loom_a_flush_that_times_out_releases_the_workers() {
    model(|| {
        let ledger = Ledger::new(2);
        let (pool, joins) = joinable_pool(2, 1, FullPolicy::DropInline, &[]);
        pool.drop(val(&ledger, 0));
        let _ = pool.flush_timeout(Duration::ZERO);
        pool.drop(val(&ledger, 1));
        drop(pool);
        join_all(&joins);
        ledger.assert_all_dropped();
    });
}

// ---------------------------------------------------------------------------------
// 2. Last-handle drop racing producers.

/// A clone used on another thread and dropped there while the original is dropped:
/// whichever handle goes last shuts the pool down; no value is lost or dropped twice,
/// every worker leaves (they are joined), nothing deadlocks.
#[test]
fn loom_last_handle_drop_races_a_clone_in_use() {
    model(|| {
        let ledger = Ledger::new(2);
        let (pool, joins) = joinable_pool(1, 1, FullPolicy::DropInline, &[]);
        let producer = {
            let (pool, ledger) = (pool.clone(), Arc::clone(&ledger));
            thread::spawn(move || {
                pool.drop(val(&ledger, 0));
                drop(pool);
            })
        };
        pool.drop(val(&ledger, 1));
        drop(pool);
        producer.join().unwrap();
        join_all(&joins);
        ledger.assert_all_dropped();
    });
}

/// The same with two workers, one of which may be parked without a timeout when the
/// pool closes: shutdown must wake it.
#[test]
fn loom_last_handle_drop_with_two_workers() {
    model_bounded(1, || {
        let ledger = Ledger::new(2);
        let (pool, joins) = joinable_pool(2, 2, FullPolicy::DropInline, &[]);
        let producer = {
            let (pool, ledger) = (pool.clone(), Arc::clone(&ledger));
            thread::spawn(move || {
                pool.drop(val(&ledger, 0));
            })
        };
        pool.drop(val(&ledger, 1));
        producer.join().unwrap();
        drop(pool);
        join_all(&joins);
        ledger.assert_all_dropped();
    });
}

/// A value that holds a handle of the pool it is deferred to, and a value of its own.
struct HoldsPool(#[allow(dead_code)] Bgdrop, #[allow(dead_code)] Val);

/// The last handle dropped by a worker, inside a destructor: the worker shuts the pool
/// down without waiting for itself and drains what is left when the destructor
/// returns.
#[test]
fn loom_last_handle_dropped_on_a_worker() {
    model(|| {
        let ledger = Ledger::new(2);
        let (pool, joins) = joinable_pool(1, 2, FullPolicy::DropInline, &[]);
        pool.drop(HoldsPool(pool.clone(), val(&ledger, 0)));
        pool.drop(val(&ledger, 1));
        drop(pool);
        join_all(&joins);
        ledger.assert_all_dropped();
    });
}

// ---------------------------------------------------------------------------------
// 3. A full queue under each policy (capacity 1).

/// `DropInline`: a value that finds the queue full is dropped by its caller, and
/// counted in `inline_full`; exactly those values are dropped on the caller.
#[test]
fn loom_full_queue_drop_inline() {
    model(|| {
        let ledger = Ledger::new(2);
        let pool = pool(1, 1, FullPolicy::DropInline);
        pool.drop(val(&ledger, 0));
        pool.drop(val(&ledger, 1));
        pool.flush();
        let stats = pool.stats();
        ledger.assert_all_dropped();
        assert_eq!(stats.inline_full as usize, ledger.count(ON_CALLER));
        assert_eq!(stats.deferred as usize, ledger.count(ON_WORKER));
        assert_eq!(stats.total(), 2);
        assert_eq!(stats.blocked, 0);
    });
}

/// `Block`: a caller that finds the queue full waits for room (waking the workers,
/// which may be asleep) and never deadlocks; every value is dropped on the worker.
#[test]
fn loom_full_queue_block() {
    model(|| {
        let ledger = Ledger::new(3);
        let pool = pool(1, 1, FullPolicy::Block);
        for i in 0..3 {
            pool.drop(val(&ledger, i));
        }
        pool.flush();
        let stats = pool.stats();
        assert_eq!(ledger.count(ON_WORKER), 3);
        assert_eq!(
            (stats.inline_full, stats.deferred, stats.completed),
            (0, 3, 3)
        );
    });
}

/// A value whose destructor defers another value to the same pool.
struct Reenter(Bgdrop, Arc<Ledger>, usize);

impl Drop for Reenter {
    fn drop(&mut self) {
        self.0.drop(val(&self.1, self.2));
    }
}

/// `Block` with a worker as the caller (a destructor deferring more values while the
/// queue is full): the worker must not wait for itself, so it drops the value inline
/// (`inline_reentrant`), and nothing deadlocks.
#[test]
fn loom_full_queue_block_from_a_worker_drops_inline() {
    model(|| {
        let ledger = Ledger::new(2);
        let pool = pool(1, 1, FullPolicy::Block);
        pool.drop(Reenter(pool.clone(), Arc::clone(&ledger), 0));
        pool.drop(val(&ledger, 1));
        pool.flush();
        let stats = pool.stats();
        assert_eq!(ledger.count(ON_WORKER), 2);
        assert_eq!(stats.inline_reentrant, 1);
        assert_eq!((stats.deferred, stats.completed), (2, 2));
    });
}

/// `Grow`: the queue never fills, whatever the capacity says; nobody drops inline or
/// waits.
#[test]
fn loom_grow_never_fills() {
    model(|| {
        let ledger = Ledger::new(3);
        let pool = pool(1, 1, FullPolicy::Grow);
        for i in 0..3 {
            pool.drop(val(&ledger, i));
        }
        // Read while the worker runs, `deferred` can miss the values that move from
        // the queue to `completed` between its reads (see `Stats`); the caller-side
        // counters are exact.
        let stats = pool.stats();
        assert_eq!((stats.inline_full, stats.blocked), (0, 0));
        pool.flush();
        assert_eq!(ledger.count(ON_WORKER), 3);
        assert_eq!(pool.stats().deferred, 3);
    });
}

// ---------------------------------------------------------------------------------
// 4. Workers parking while producers push.
//
// Under loom the idle back-off runs its real code: a spin and a yield, timed parks
// while warm, then (the model clock moves on at every reading) cold: worker 0 keeps
// polling with a timed park, the others park with no timeout until woken. Callers wake
// workers only when the queue is full, on flush and at shutdown; these models prove
// those wake-ups cannot be lost, whatever the point at which a worker goes to sleep.

/// A value pushed while worker 1 goes to sleep for good is dropped, by worker 0 or
/// worker 1; the flush's tokens reach the sleeping worker wherever it is in its
/// back-off.
#[test]
fn loom_flush_wakes_a_parked_worker() {
    model_bounded(1, || {
        let ledger = Ledger::new(1);
        let (pool, joins) = joinable_pool(2, 2, FullPolicy::DropInline, &[]);
        pool.drop(val(&ledger, 0));
        pool.flush();
        assert!(ledger.dropped(0));
        drop(pool);
        join_all(&joins);
    });
}

/// A full queue under `Block` with the workers asleep: the blocked caller wakes them.
#[test]
fn loom_a_blocked_caller_wakes_parked_workers() {
    model_bounded(1, || {
        let ledger = Ledger::new(2);
        let (pool, joins) = joinable_pool(2, 1, FullPolicy::Block, &[]);
        pool.drop(val(&ledger, 0));
        pool.drop(val(&ledger, 1));
        drop(pool);
        join_all(&joins);
        assert_eq!(ledger.count(ON_WORKER), 2);
    });
}

/// The first spawn fails: the workers that did start must still include one that
/// never parks for good. Here a flush has more tokens than the queue has room, so it
/// needs a worker to take one before it queues the next and wakes them. Before the fix
/// (indices were fixed before spawning, so there was no worker 0) both workers could
/// park with no timeout and the flush blocked for ever: loom reported the deadlock.
#[test]
fn loom_flush_with_the_first_worker_missing() {
    model_bounded(1, || {
        let ledger = Ledger::new(1);
        let (pool, joins) = joinable_pool(3, 1, FullPolicy::DropInline, &[0]);
        pool.drop(val(&ledger, 0));
        pool.flush();
        assert!(ledger.dropped(0));
        drop(pool);
        join_all(&joins);
    });
}

// ---------------------------------------------------------------------------------
// 5. The counters behind `stats()`, and the exit drain.

/// In a quiescent pool after `flush`, `deferred == completed` and `pending == 0`, and
/// every value is counted exactly once, when three threads (two with their own counter
/// shard, one on the shared shard under loom's 2 shards) hand values to a pool whose
/// queue holds one.
#[test]
fn loom_stats_after_flush_are_exact() {
    model(|| {
        let ledger = Ledger::new(3);
        let pool = pool(1, 1, FullPolicy::DropInline);
        let producers: Vec<_> = (0..2)
            .map(|i| {
                let (pool, ledger) = (pool.clone(), Arc::clone(&ledger));
                thread::spawn(move || pool.drop(val(&ledger, i)))
            })
            .collect();
        pool.drop(val(&ledger, 2));
        for p in producers {
            p.join().unwrap();
        }
        pool.flush();
        let stats = pool.stats();
        assert_eq!(stats.deferred, stats.completed);
        assert_eq!(stats.pending, 0);
        assert_eq!(stats.total(), 3);
        assert_eq!(stats.inline_full as usize, ledger.count(ON_CALLER));
        assert_eq!(stats.completed as usize, ledger.count(ON_WORKER));
    });
}

/// The process-exit path (`close_and_drain`, what the global pool's `atexit` hook
/// runs) while the worker may be in the middle of a destructor: it returns only once
/// every queued value has been dropped, by the worker or by the exit helper, and
/// the drops are visible to it.
#[test]
fn loom_exit_drain_while_a_worker_is_mid_destructor() {
    model(|| {
        let ledger = Ledger::new(2);
        let pool = pool(1, 2, FullPolicy::DropInline);
        pool.drop(val(&ledger, 0));
        pool.drop(val(&ledger, 1));
        assert!(Shared::close_and_drain(
            pool.shared(),
            Duration::from_secs(3600)
        ));
        ledger.assert_all_dropped();
        let stats = pool.stats();
        assert_eq!((stats.deferred, stats.completed, stats.pending), (2, 2, 0));
        // Closed: later values are dropped by their caller.
        let late = Ledger::new(1);
        pool.drop(val(&late, 0));
        assert_eq!(late.state(0), ON_CALLER);
    });
}

/// An exit drain that times out (the clock moves at every reading) returns `false`
/// and leaves nothing behind for good: a later shutdown still drops every value.
#[test]
fn loom_exit_drain_that_times_out_loses_nothing() {
    model(|| {
        let ledger = Ledger::new(2);
        let pool = pool(1, 2, FullPolicy::DropInline);
        pool.drop(val(&ledger, 0));
        pool.drop(val(&ledger, 1));
        let _ = Shared::close_and_drain(pool.shared(), Duration::ZERO);
        drop(pool);
        ledger.assert_all_dropped();
    });
}

// ---------------------------------------------------------------------------------
// Slot: the publisher / waiter handshake, and where replaced values die.

/// A pool without workers: values are dropped by whoever hands them over, so a model
/// of the slot's own protocol does not explore a worker's polling.
fn workerless_pool() -> Bgdrop {
    Bgdrop::builder()
        .spawn_handler(|_: WorkerThread| Err(std::io::Error::other("no workers in this model")))
        .build_or_inline()
}

/// A waiter that checks the version just as it is published still wakes: either it
/// sees the new version, or the publisher sees it waiting and notifies.
#[test]
fn loom_slot_a_waiter_never_misses_a_publication() {
    model(|| {
        let slot = Arc::new(Slot::with_pool(0u32, &workerless_pool()));
        let s = Arc::clone(&slot);
        let waiter = thread::spawn(move || s.wait_newer(0).version());
        assert_eq!(slot.publish(1), 1);
        assert_eq!(waiter.join().expect("the waiter returns"), 1);
    });
}

/// The same handshake for the future of `wait_newer_async`.
#[cfg(feature = "async")]
#[test]
fn loom_slot_an_async_waiter_never_misses_a_publication() {
    model(|| {
        let slot = Arc::new(Slot::with_pool(0u32, &workerless_pool()));
        let s = Arc::clone(&slot);
        let waiter = thread::spawn(move || loom::future::block_on(s.wait_newer_async(0)).version());
        slot.publish(1);
        assert_eq!(waiter.join().expect("the waiter returns"), 1);
    });
}

/// A reader letting go of the old snapshot races the publisher replacing it:
/// whichever is last, the old value is dropped once, on the worker; the new one
/// when the slot and the pool go.
#[test]
fn loom_slot_a_replaced_value_is_dropped_once_on_the_worker() {
    model(|| {
        let ledger = Ledger::new(2);
        let pool = pool(1, 2, FullPolicy::Block);
        let slot = Slot::with_pool(val(&ledger, 0), &pool);
        let snapshot = slot.load();
        let reader = thread::spawn(move || drop(snapshot));
        assert_eq!(slot.publish(val(&ledger, 1)), 1);
        reader.join().expect("the reader returns");
        pool.flush();
        assert_eq!(ledger.state(0), ON_WORKER);
        assert!(!ledger.dropped(1));
        drop(slot);
        drop(pool);
        ledger.assert_all_dropped();
        assert_eq!(ledger.state(1), ON_WORKER);
    });
}

// ---------------------------------------------------------------------------------
// Stages: per-thread buffers that workers sweep (see `crate::stage`). Under loom a
// stage holds two values, so a pool of capacity 2 or more stages, and a full stage
// is shipped on its second value.

/// Staged values count against the capacity: with the worker held inside a
/// destructor, at most `capacity` values wait (staged or queued) and the rest are
/// dropped by their caller; once the worker is free, a flush drops every staged
/// value, and the counters add up.
#[test]
fn loom_staged_values_count_against_the_capacity() {
    model(|| {
        let ledger = Ledger::new(4);
        let pool = pool(1, 2, FullPolicy::DropInline);
        let open = Signal::new();
        pool.drop(Gated(Arc::clone(&open), val(&ledger, 0)));
        for i in 1..4 {
            pool.drop(val(&ledger, i));
        }
        let stats = pool.stats();
        // The held value and two more at most; whatever did not fit was dropped here.
        assert!(stats.pending <= 3, "{stats}");
        assert!(stats.inline_full >= 1, "{stats}");
        open.set();
        pool.flush();
        ledger.assert_all_dropped();
        let stats = pool.stats();
        assert_eq!(stats.total(), 4);
        assert_eq!((stats.deferred, stats.pending), (stats.completed, 0));
        assert_eq!(stats.inline_full as usize, ledger.count(ON_CALLER));
    });
}

/// A thread stages one value (a stage not yet full) and exits: an idle worker sweeps
/// it, so the value is dropped without any flush, and the exited thread's stage is
/// forgotten.
#[test]
fn loom_a_partly_filled_stage_of_an_exited_thread_is_swept() {
    model(|| {
        let ledger = Ledger::new(1);
        let (pool, joins) = joinable_pool(1, 4, FullPolicy::Grow, &[]);
        let producer = {
            let (pool, ledger) = (pool.clone(), Arc::clone(&ledger));
            thread::spawn(move || pool.drop(val(&ledger, 0)))
        };
        producer.join().unwrap();
        while !ledger.dropped(0) {
            thread::yield_now();
        }
        assert_eq!(ledger.state(0), ON_WORKER);
        drop(pool);
        join_all(&joins);
    });
}

/// The process-exit drain seals the stages while another thread stages a value:
/// the value is dropped exactly once, by a worker or the drain if it was staged before
/// the seal, by its caller after; the drain returns only once it is gone in the first
/// case.
#[test]
fn loom_the_exit_drain_seals_stages_while_a_thread_stages() {
    model(|| {
        let ledger = Ledger::new(2);
        let pool = pool(1, 4, FullPolicy::DropInline);
        pool.drop(val(&ledger, 0));
        let producer = {
            let (pool, ledger) = (pool.clone(), Arc::clone(&ledger));
            thread::spawn(move || pool.drop(val(&ledger, 1)))
        };
        assert!(Shared::close_and_drain(
            pool.shared(),
            Duration::from_secs(3600)
        ));
        assert!(ledger.dropped(0));
        producer.join().unwrap();
        ledger.assert_all_dropped();
        let stats = pool.stats();
        assert_eq!(stats.total(), 2);
        assert_eq!(stats.pending, 0);
    });
}

/// A flag that threads wait for by blocking (a spin-wait would make loom explore
/// unboundedly many schedules).
struct Signal(crate::sync::Mutex<bool>, crate::sync::Condvar);

impl Signal {
    fn new() -> Arc<Signal> {
        Arc::new(Signal(
            crate::sync::Mutex::new(false),
            crate::sync::Condvar::new(),
        ))
    }

    fn set(&self) {
        *crate::sync::lock(&self.0) = true;
        self.1.notify_all();
    }

    fn wait(&self) {
        let mut set = crate::sync::lock(&self.0);
        while !*set {
            set = self.1.wait(set).expect("not poisoned");
        }
    }
}

/// A value that blocks its worker until `open` is set.
struct Gated(Arc<Signal>, #[allow(dead_code)] Val);

impl Drop for Gated {
    fn drop(&mut self) {
        self.0.wait();
    }
}

/// A value that records its drop in a ledger like [`Val`], then sets a signal.
struct Announced(Entry, Arc<Signal>);

/// A ledger entry without a destructor of its own.
struct Entry(Arc<Ledger>, usize);

impl Drop for Announced {
    fn drop(&mut self) {
        // Record the drop first (the `Val` is not dropped before this returns, so it
        // is recorded by hand, exactly as its own destructor would), then announce.
        let at = if on_any_worker() {
            ON_WORKER
        } else {
            ON_CALLER
        };
        let seen = self.0.0.0[self.0.1].swap(at, Ordering::Relaxed);
        assert_eq!(seen, NOT_DROPPED, "value {} dropped twice", self.0.1);
        self.1.set();
    }
}

/// Two workers, and a stage whose first value holds its worker: the other worker takes
/// the value shipped with it from the first worker's hand (nothing waits behind a slow
/// destructor), and every value is dropped once, on a worker.
#[test]
fn loom_an_idle_worker_takes_from_a_busy_workers_hand() {
    model_bounded(1, || {
        let ledger = Ledger::new(2);
        let (pool, joins) = joinable_pool(2, 2, FullPolicy::DropInline, &[]);
        let (open, done) = (Signal::new(), Signal::new());
        // Two values fill the stage (two under loom): they ship together, the gated
        // one first.
        pool.drop(Gated(Arc::clone(&open), val(&ledger, 0)));
        pool.drop(Announced(Entry(Arc::clone(&ledger), 1), Arc::clone(&done)));
        // Returns only if a worker other than the gated one drops the second value.
        done.wait();
        open.set();
        drop(pool);
        join_all(&joins);
        ledger.assert_all_dropped();
        assert_eq!(ledger.count(ON_WORKER), 2);
    });
}

/// A value staged before a flush whose thread fills and ships its stage while the
/// flush runs: the value may reach the queue behind the flush's tokens, so the flush
/// itself takes the staged values and sends them ahead of its tokens. (When workers
/// took the stages only on receiving a token, loom found the value still undropped
/// after `flush` returned.)
#[test]
fn loom_flush_covers_a_value_its_thread_ships_during_the_flush() {
    model(|| {
        let ledger = Ledger::new(3);
        let pool = pool(1, 2, FullPolicy::Grow);
        let sent = Arc::new(AtomicBool::new(false));
        let producer = {
            let (pool, ledger, sent) = (pool.clone(), Arc::clone(&ledger), Arc::clone(&sent));
            thread::spawn(move || {
                pool.drop(val(&ledger, 0));
                sent.store(true, Ordering::Release);
                // Fills the stage of two, which ships it, then stages one more.
                pool.drop(val(&ledger, 1));
                pool.drop(val(&ledger, 2));
            })
        };
        let before = sent.load(Ordering::Acquire);
        pool.flush();
        if before {
            assert!(ledger.dropped(0));
        }
        producer.join().unwrap();
        drop(pool);
        ledger.assert_all_dropped();
    });
}
