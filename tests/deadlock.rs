//! Deferring never deadlocks: from a worker, from thread exit, or from `flush` on a
//! worker, the value is dropped on the spot.

use bgdrop::{Bgdrop, FullPolicy};
use bgdrop_suite::{Counter, DropLog, Token};
use std::cell::RefCell;
use std::thread;

fn tiny_blocking_pool() -> Bgdrop {
    Bgdrop::builder()
        .capacity(1)
        .when_full(FullPolicy::Block)
        .build()
        .unwrap()
}

/// Hands more values to a pool from its destructor.
struct Spawner(Bgdrop, Counter, usize);

impl Drop for Spawner {
    fn drop(&mut self) {
        for _ in 0..self.2 {
            self.0.drop(self.1.token());
            bgdrop::defer(self.1.token());
        }
    }
}

#[test]
fn deferring_from_a_destructor_on_a_worker_drops_inline() {
    let pool = tiny_blocking_pool();
    let counter = Counter::new();
    for _ in 0..20 {
        pool.drop(Spawner(pool.clone(), counter.clone(), 50));
    }
    pool.flush();
    assert_eq!(counter.get(), 20 * 50 * 2);
    let stats = pool.stats();
    assert_eq!(stats.inline_reentrant, 20 * 50);
    assert_eq!(stats.deferred, 20);
}

/// Calls `flush` from its destructor, on the worker.
struct Flusher(Bgdrop, #[allow(dead_code)] Token);

impl Drop for Flusher {
    fn drop(&mut self) {
        self.0.flush();
        assert!(!self.0.flush_timeout(std::time::Duration::from_mins(1)));
        bgdrop::flush();
    }
}

#[test]
fn flush_from_a_destructor_on_a_worker_returns() {
    let pool = tiny_blocking_pool();
    let counter = Counter::new();
    for _ in 0..5 {
        pool.drop(Flusher(pool.clone(), counter.token()));
    }
    pool.flush();
    assert_eq!(counter.get(), 5);
    assert_eq!(pool.stats().panicked, 0);
}

thread_local! {
    static HELD: RefCell<Option<Leaving>> = const { RefCell::new(None) };
}

/// Defers a witness when the thread-local holding it is destroyed.
struct Leaving(Bgdrop, DropLog);

impl Drop for Leaving {
    fn drop(&mut self) {
        self.0.drop(self.1.witness());
    }
}

/// Runs a thread that hands `pool` a witness and parks a [`Leaving`] in a thread-local,
/// in the given order, then exits. Returns the exiting thread's id.
fn exit_with_thread_local(
    pool: &Bgdrop,
    log: &DropLog,
    thread_local_first: bool,
) -> thread::ThreadId {
    let (p, l) = (pool.clone(), log.clone());
    thread::spawn(move || {
        let hold = |p: Bgdrop, l: DropLog| HELD.with(|h| *h.borrow_mut() = Some(Leaving(p, l)));
        if thread_local_first {
            hold(p.clone(), l.clone());
            p.drop(l.witness());
        } else {
            p.drop(l.witness());
            hold(p, l);
        }
        thread::current().id()
    })
    .join()
    .unwrap()
}

#[test]
fn deferring_from_a_thread_local_destructor_at_thread_exit_drops_inline() {
    // The thread-local was set before the thread's first hand-off, so bgdrop's exit
    // guard is destroyed first and marks the thread as exiting.
    let pool = tiny_blocking_pool();
    let log = DropLog::new();
    let exiting = exit_with_thread_local(&pool, &log, true);
    pool.flush();
    assert_eq!(log.count(), 2);
    let threads = log.threads();
    assert_eq!(
        threads.iter().filter(|(t, _)| *t == exiting).count(),
        1,
        "{threads:?}"
    );
    assert_eq!(pool.stats().inline_reentrant, 1);
}

#[test]
fn deferring_from_any_thread_local_destructor_never_deadlocks_or_loses_the_value() {
    // Whatever the order of thread-local destruction, with a one-value queue and the
    // blocking policy: the value is either deferred (the workers are running, so
    // waiting is safe) or dropped inline, and it is dropped exactly once.
    let pool = tiny_blocking_pool();
    for thread_local_first in [false, true, false, true] {
        let log = DropLog::new();
        exit_with_thread_local(&pool, &log, thread_local_first);
        pool.flush();
        assert_eq!(log.count(), 2);
    }
    let stats = pool.stats();
    assert_eq!(stats.total(), 8);
    assert_eq!(stats.pending, 0);
}
