//! `flush` is exact: it returns only once every value handed over before it was dropped.

use bgdrop::{Bgdrop, FullPolicy};
use bgdrop_suite::{Counter, DropLog};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

const PRODUCERS: usize = 4;
const PER_PRODUCER: usize = if cfg!(miri) { 100 } else { 100_000 };

fn produce(pool: &Bgdrop, counter: &Counter) {
    thread::scope(|s| {
        for _ in 0..PRODUCERS {
            s.spawn(|| {
                for _ in 0..PER_PRODUCER {
                    pool.drop(counter.token());
                }
            });
        }
    });
}

#[test]
fn four_producers_then_flush_every_destructor_ran_and_stats_add_up() {
    for policy in [FullPolicy::DropInline, FullPolicy::Block, FullPolicy::Grow] {
        let pool = Bgdrop::builder()
            .threads(2)
            .when_full(policy)
            .build()
            .unwrap();
        let counter = Counter::new();
        produce(&pool, &counter);
        pool.flush();
        let total = PRODUCERS * PER_PRODUCER;
        assert_eq!(counter.get(), total, "{policy:?}");
        let stats = pool.stats();
        assert_eq!(stats.total(), total as u64, "{policy:?}: {stats}");
        assert_eq!(stats.completed, stats.deferred, "{policy:?}: {stats}");
        assert_eq!(stats.pending, 0, "{policy:?}: {stats}");
        assert_eq!(stats.panicked, 0);
        if policy != FullPolicy::DropInline {
            assert_eq!(stats.deferred, total as u64, "{policy:?}: {stats}");
            assert_eq!(stats.inline_full, 0);
        }
    }
}

/// Signals that its destructor started, then blocks until released.
struct Slow(
    mpsc::Sender<()>,
    mpsc::Receiver<()>,
    #[allow(dead_code)] bgdrop_suite::witness::Witness,
);

impl Drop for Slow {
    fn drop(&mut self) {
        self.0.send(()).unwrap();
        self.1.recv().unwrap();
    }
}

#[test]
fn flush_waits_for_the_value_a_worker_is_dropping() {
    // Two workers: one is stuck in a slow destructor when flush is called; flush must
    // not return before that destructor finishes, even though the other worker is
    // free and the queue is empty.
    let pool = Bgdrop::with_threads(2);
    let (started_tx, started_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let log = DropLog::new();
    pool.drop(Slow(started_tx, release_rx, log.witness()));
    started_rx.recv().unwrap();
    let flushed = thread::scope(|s| {
        let flusher = s.spawn(|| pool.flush_timeout(Duration::from_mins(1)));
        // The flush cannot finish while the destructor is blocked.
        assert!(!pool.flush_timeout(Duration::from_millis(50)));
        assert_eq!(log.count(), 0);
        release_tx.send(()).unwrap();
        flusher.join().unwrap()
    });
    assert!(flushed);
    assert_eq!(log.count(), 1);
    // A timed-out flush left the pool working.
    pool.drop(log.witness());
    pool.flush();
    assert_eq!(log.count(), 2);
}

#[test]
fn flushes_racing_producers_each_cover_their_own_values() {
    let pool = Bgdrop::with_threads(3);
    thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..50 {
                    let log = DropLog::new();
                    for _ in 0..20 {
                        pool.drop(log.witness());
                    }
                    pool.flush();
                    assert_eq!(log.count(), 20);
                }
            });
        }
    });
    let stats = pool.stats();
    assert_eq!(stats.completed, stats.deferred);
}

#[test]
fn flush_on_an_empty_or_fresh_pool_returns() {
    let pool = Bgdrop::with_threads(4);
    pool.flush();
    assert!(pool.flush_timeout(Duration::from_secs(30)));
    bgdrop::flush();
    assert!(bgdrop::flush_timeout(Duration::from_secs(30)));
}
