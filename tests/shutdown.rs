//! No value is lost when the last handle of a pool is dropped.

use bgdrop::{Bgdrop, FullPolicy};
use bgdrop_suite::{Counter, DropLog, Token};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// Blocks its worker until released, then drops its token.
struct Gate(mpsc::Receiver<()>, #[allow(dead_code)] Token);

impl Drop for Gate {
    fn drop(&mut self) {
        let _ = self.0.recv();
    }
}

#[test]
fn dropping_the_last_handle_drains_the_queue_and_joins_the_workers() {
    for policy in [FullPolicy::DropInline, FullPolicy::Block, FullPolicy::Grow] {
        let pool = Bgdrop::builder()
            .threads(2)
            .capacity(4096)
            .when_full(policy)
            .build()
            .unwrap();
        let counter = Counter::new();
        let (release, gate) = mpsc::channel();
        let (release2, gate2) = mpsc::channel();
        pool.drop(Gate(gate, counter.token()));
        pool.drop(Gate(gate2, counter.token()));
        for _ in 0..1000 {
            pool.drop(counter.token());
        }
        // Both workers are stuck, so everything else is still queued.
        let stats = pool.stats();
        assert_eq!(stats.pending, 1002, "{policy:?}: {stats}");
        release.send(()).unwrap();
        release2.send(()).unwrap();
        drop(pool);
        assert_eq!(counter.get(), 1002, "{policy:?}");
    }
}

#[test]
fn dropping_a_clone_keeps_the_pool_running() {
    let pool = Bgdrop::new();
    drop(pool.clone());
    let log = DropLog::new();
    pool.drop(log.witness());
    pool.flush();
    assert_eq!(log.count(), 1);
    assert_eq!(pool.stats().workers, 1);
}

/// Holds a handle of the pool it is deferred to and reports when it is dropped.
struct HoldsPool(#[allow(dead_code)] Bgdrop, mpsc::Sender<&'static str>);

impl Drop for HoldsPool {
    fn drop(&mut self) {
        let _ = self.1.send("dropped");
    }
}

#[test]
fn the_last_handle_dropped_on_its_own_worker_does_not_deadlock() {
    let pool = Bgdrop::with_threads(2);
    let (tx, rx) = mpsc::channel();
    // The queued value owns a clone; once the test's handle is gone, a worker drops
    // the last handle from inside this value's destructor.
    pool.drop(HoldsPool(pool.clone(), tx));
    drop(pool);
    assert_eq!(rx.recv_timeout(Duration::from_mins(1)), Ok("dropped"));
}

#[test]
fn values_deferred_while_shutting_down_are_dropped_inline() {
    // A destructor run during the final drain hands values to the same pool through
    // the handle it owns, with the blocking policy and a one-value queue: they must
    // be dropped on the spot rather than wait for a worker that is leaving.
    struct Defers(Bgdrop, Counter);
    impl Drop for Defers {
        fn drop(&mut self) {
            for _ in 0..100 {
                self.0.drop(self.1.token());
            }
        }
    }
    let pool = Bgdrop::builder()
        .capacity(1)
        .when_full(FullPolicy::Block)
        .build()
        .unwrap();
    let counter = Counter::new();
    pool.drop(Defers(pool.clone(), counter.clone()));
    drop(pool);
    // The pool is gone once its last handle (inside `Defers`) is dropped; wait for
    // that through the counter's own handle count.
    let deadline = std::time::Instant::now() + Duration::from_mins(1);
    while counter.get() < 100 && std::time::Instant::now() < deadline {
        thread::yield_now();
    }
    assert_eq!(counter.get(), 100);
}
