//! Memory stays bounded when a producer outruns the workers.

use bgdrop::{Bgdrop, DEFAULT_CAPACITY, FullPolicy};
use bgdrop_suite::{Counter, Token};
use std::sync::mpsc;

const VALUES: usize = if cfg!(miri) { 2_000 } else { 100_000 };

/// Blocks its worker until released.
struct Gate(mpsc::Receiver<()>);

impl Drop for Gate {
    fn drop(&mut self) {
        let _ = self.0.recv();
    }
}

/// A [`Gate`] that says when its worker has entered it.
struct SignalledGate {
    entered: mpsc::Sender<()>,
    #[allow(dead_code, reason = "held to be dropped after `entered` is sent")]
    gate: Gate,
}

impl Drop for SignalledGate {
    fn drop(&mut self) {
        let _ = self.entered.send(());
        // `gate` is dropped next, and blocks.
    }
}

/// Hands `pool` a gate, and returns once its worker is stuck in it (the gate's room
/// in the capacity is then free again): the worker stays there until the returned
/// sender sends or is dropped.
fn hold_worker(pool: &Bgdrop) -> mpsc::Sender<()> {
    let (release, gate) = mpsc::channel();
    let (entered, worker_in) = mpsc::channel();
    pool.drop(SignalledGate {
        entered,
        gate: Gate(gate),
    });
    worker_in
        .recv_timeout(std::time::Duration::from_mins(1))
        .expect("the worker takes the gate");
    release
}

/// A value holding 1 KiB, so that an unbounded queue would visibly hold memory.
struct Chunk(#[allow(dead_code)] Vec<u8>, #[allow(dead_code)] Token);

#[test]
fn with_the_defaults_a_stuck_worker_holds_at_most_a_queue_of_values() {
    let pool = Bgdrop::new();
    let counter = Counter::new();
    // Waits for the worker to be in the gate: until it has taken the gate, the gate
    // takes up one value's room (and one value fewer would fit).
    let release = hold_worker(&pool);
    let mut peak = 0;
    for _ in 0..VALUES {
        pool.drop(Chunk(vec![1; 1024], counter.token()));
        peak = peak.max(pool.stats().pending);
    }
    let stats = pool.stats();
    assert_eq!(stats.policy, FullPolicy::DropInline);
    assert_eq!(stats.capacity, Some(DEFAULT_CAPACITY));
    // The gate is being dropped, the queue is full, everything else was dropped here.
    assert!(peak <= DEFAULT_CAPACITY as u64 + 1, "peak {peak}");
    assert_eq!(
        stats.inline_full,
        (VALUES - DEFAULT_CAPACITY) as u64,
        "{stats}"
    );
    assert_eq!(counter.get(), VALUES - DEFAULT_CAPACITY);
    release.send(()).unwrap();
    pool.flush();
    assert_eq!(counter.get(), VALUES);
    assert_eq!(pool.stats().total(), VALUES as u64 + 1);
}

#[test]
fn the_blocking_policy_bounds_memory_without_dropping_inline() {
    let capacity = 64;
    let pool = Bgdrop::builder()
        .capacity(capacity)
        .when_full(FullPolicy::Block)
        .build()
        .unwrap();
    let counter = Counter::new();
    let mut peak = 0;
    for _ in 0..VALUES / 10 {
        pool.drop(Chunk(vec![1; 1024], counter.token()));
        peak = peak.max(pool.stats().pending);
    }
    pool.flush();
    let stats = pool.stats();
    assert!(peak <= capacity as u64 + 1, "peak {peak}");
    assert_eq!(stats.deferred, (VALUES / 10) as u64);
    assert_eq!(stats.inline(), 0);
    assert_eq!(counter.get(), VALUES / 10);
}

#[test]
fn the_growing_policy_is_unbounded_and_says_so() {
    let pool = Bgdrop::builder()
        .when_full(FullPolicy::Grow)
        .build()
        .unwrap();
    let counter = Counter::new();
    let (release, gate) = mpsc::channel();
    pool.drop(Gate(gate));
    for _ in 0..5 * DEFAULT_CAPACITY {
        pool.drop(counter.token());
    }
    let stats = pool.stats();
    assert_eq!(stats.policy, FullPolicy::Grow);
    assert_eq!(stats.capacity, None);
    assert_eq!(stats.pending, 5 * DEFAULT_CAPACITY as u64 + 1);
    assert_eq!(stats.inline(), 0);
    release.send(()).unwrap();
    pool.flush();
    assert_eq!(counter.get(), 5 * DEFAULT_CAPACITY);
}

/// A thread that found the queue full drops its next `FULL_BACKOFF` values inline
/// without trying the queue, then tries again; other threads and other pools are not
/// affected.
#[test]
fn after_a_full_queue_the_caller_backs_off_for_full_backoff_values() {
    use bgdrop::FULL_BACKOFF;
    let pool = Bgdrop::builder().capacity(1).build().unwrap();
    let (release, gate) = mpsc::channel();
    pool.drop(Gate(gate));
    // One slot: whether the worker has taken the gate yet or not, at most two more
    // values find room before one finds the queue full (the worker is stuck).
    for _ in 0..3 {
        pool.drop(vec![1u8; 8]);
        if pool.stats().inline_full > 0 {
            break;
        }
    }
    assert_eq!(pool.stats().inline_full, 1);
    release.send(()).unwrap();
    pool.flush(); // room again
    let before = pool.stats();

    // Another thread has no back-off.
    std::thread::scope(|s| {
        s.spawn(|| pool.drop(vec![2u8; 8]));
    });
    pool.flush();
    assert_eq!(pool.stats().deferred, before.deferred + 1);

    // Another pool is not affected either.
    let other = Bgdrop::new();
    other.drop(vec![3u8; 8]);
    other.flush();
    assert_eq!(other.stats().deferred, 1);

    // This thread drops the next FULL_BACKOFF values inline, then defers again.
    for _ in 0..FULL_BACKOFF {
        pool.drop(vec![4u8; 8]);
    }
    let after = pool.stats();
    assert_eq!(
        after.inline_full,
        before.inline_full + u64::from(FULL_BACKOFF)
    );
    pool.drop(vec![5u8; 8]);
    pool.flush();
    assert_eq!(pool.stats().deferred, before.deferred + 2);
}

/// With `yield_when_full` (the default) the workers pause while a caller keeps finding
/// the pool full; a flush meanwhile still returns, and once the overload ends the
/// backlog is dropped on the workers. Without it the workers keep freeing during the
/// overload. Either way nothing is lost and the counts add up.
#[test]
fn workers_that_yield_to_an_overload_still_serve_flushes_and_drain_after_it() {
    for yield_when_full in [true, false] {
        let pool = Bgdrop::builder()
            .capacity(64)
            .yield_when_full(yield_when_full)
            .build()
            .unwrap();
        let counter = Counter::new();
        let stop = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    pool.drop(counter.token());
                }
            });
            // The producer outruns the worker (its values cost nothing to make), so
            // it keeps finding the pool full; flushes must not wait for it to stop.
            while pool.stats().inline_full == 0 {
                std::thread::yield_now();
            }
            for _ in 0..20 {
                assert!(pool.flush_timeout(std::time::Duration::from_mins(1)));
            }
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        });
        pool.flush();
        let stats = pool.stats();
        assert!(stats.inline_full > 0, "{stats}");
        assert_eq!(
            (stats.deferred, stats.pending),
            (stats.completed, 0),
            "{stats}"
        );
        assert_eq!(counter.get() as u64, stats.total(), "{stats}");
    }
}
