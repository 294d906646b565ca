//! A panicking destructor never kills a worker.

use bgdrop::Bgdrop;
use bgdrop_suite::{Counter, DropLog};

struct Bomb;

impl Drop for Bomb {
    fn drop(&mut self) {
        panic!("destructor panicked on purpose");
    }
}

#[test]
fn later_values_are_still_dropped_and_flush_returns() {
    let pool = Bgdrop::new();
    let log = DropLog::new();
    for _ in 0..10 {
        pool.drop(Bomb);
        pool.drop(log.witness());
    }
    pool.flush();
    assert_eq!(log.count(), 10);
    assert!(log.all_on_workers());
    let stats = pool.stats();
    assert_eq!(stats.panicked, 10);
    assert_eq!(stats.completed, 20);
    assert_eq!(stats.workers, 1);
}

/// A panic payload whose own destructor panics.
struct NastyPayload;

impl Drop for NastyPayload {
    fn drop(&mut self) {
        assert!(std::thread::panicking(), "payload destructor panicked too");
    }
}

struct ThrowsNasty;

impl Drop for ThrowsNasty {
    fn drop(&mut self) {
        std::panic::panic_any(NastyPayload);
    }
}

#[test]
fn a_payload_whose_drop_panics_does_not_escape_the_worker() {
    let pool = Bgdrop::new();
    let counter = Counter::new();
    pool.drop(ThrowsNasty);
    pool.drop(counter.token());
    pool.flush();
    assert_eq!(counter.get(), 1);
    assert_eq!(pool.stats().panicked, 1);
    assert_eq!(pool.stats().workers, 1);
    drop(pool); // shuts down cleanly
}
