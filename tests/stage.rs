//! Per-thread stages (see "How a value reaches a worker" in the crate docs): a staged
//! value is never stranded, whichever thread staged it and whatever it does next.
//!
//! No test here waits for a drop by sleeping a fixed time: they poll for the drop
//! with a generous deadline (a liveness check), or use `flush`.

use bgdrop::{Bgdrop, FullPolicy};
use bgdrop_suite::{Counter, Log, pool};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// Polls `done` until it holds; panics after a minute (something is stranded).
fn eventually(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_mins(1);
    while !done() {
        assert!(Instant::now() < deadline, "{what} never happened");
        thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn a_single_staged_value_is_freed_without_a_flush_while_its_thread_waits() {
    let pool = pool();
    let log = Log::new();
    let (go, wait) = mpsc::channel::<()>();
    let staging = {
        let (pool, log) = (pool.clone(), log.clone());
        thread::spawn(move || {
            pool.drop(log.witness("lone"));
            // The thread stays alive and never hands over anything else.
            wait.recv().unwrap();
        })
    };
    eventually("the lone staged value's drop", || {
        !log.drops("lone").is_empty()
    });
    log.assert_on_worker("lone");
    go.send(()).unwrap();
    staging.join().unwrap();
}

#[test]
fn values_staged_by_a_thread_that_exits_are_freed_without_a_flush() {
    let pool = pool();
    let log = Log::new();
    thread::scope(|s| {
        for i in 0..8 {
            let (pool, log) = (&pool, &log);
            s.spawn(move || pool.drop(log.witness(&format!("exited {i}"))));
        }
    });
    for i in 0..8 {
        let name = format!("exited {i}");
        eventually(&name, || !log.drops(&name).is_empty());
        log.assert_on_worker(&name);
    }
}

#[test]
fn a_value_staged_while_other_threads_keep_the_worker_busy_is_not_held_back() {
    // `Grow`: with a capacity, the busy thread can use all of it at the moment the
    // value is handed over, which then drops it on its own thread (`DropInline`), as
    // it should; about 1 run in 15 under load did. Without one, the value is always
    // staged, and the test is about what happens to it then.
    let pool = Bgdrop::builder()
        .thread_name("bgdrop")
        .when_full(FullPolicy::Grow)
        .build()
        .expect("spawn a worker");
    let log = Log::new();
    let stop = AtomicBool::new(false);
    thread::scope(|s| {
        // Full stages from this thread keep the worker busy the whole time.
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                pool.drop(vec![vec![0u8; 8]; 32]);
            }
        });
        let (go, wait) = mpsc::channel::<()>();
        let (pool, log) = (&pool, &log);
        s.spawn(move || {
            pool.drop(log.witness("under load"));
            wait.recv().unwrap();
        });
        eventually("the staged value's drop under load", || {
            !log.drops("under load").is_empty()
        });
        stop.store(true, Ordering::Relaxed);
        go.send(()).unwrap();
    });
    log.assert_on_worker("under load");
}

#[test]
fn one_thread_deferring_to_many_pools_defers_to_each() {
    // More pools than a thread keeps stages for: the rest go through the queue one
    // value at a time, and every value still reaches a worker of its own pool.
    let pools: Vec<Bgdrop> = (0..7).map(|_| pool()).collect();
    let log = Log::new();
    for round in 0..50 {
        for (p, pool) in pools.iter().enumerate() {
            pool.drop(log.witness(&format!("{p}/{round}")));
        }
    }
    for (p, pool) in pools.iter().enumerate() {
        pool.flush();
        let stats = pool.stats();
        assert_eq!(
            (stats.deferred, stats.completed),
            (50, 50),
            "pool {p}: {stats}"
        );
        assert_eq!(stats.inline(), 0, "pool {p}: {stats}");
        for round in 0..50 {
            log.assert_on_worker(&format!("{p}/{round}"));
        }
    }
}

#[test]
fn pools_created_and_dropped_in_turn_each_get_their_own_values() {
    // A new pool may reuse the address of the one before it; the stage this thread
    // kept for the old one is sealed and must not swallow the new pool's values.
    let counter = Counter::new();
    for i in 0..200 {
        let pool = Bgdrop::builder()
            .when_full(if i % 2 == 0 {
                FullPolicy::DropInline
            } else {
                FullPolicy::Grow
            })
            .build()
            .unwrap();
        for _ in 0..3 {
            pool.drop(counter.token());
        }
        pool.flush();
        let stats = pool.stats();
        assert_eq!(
            (stats.deferred, stats.completed),
            (3, 3),
            "pool {i}: {stats}"
        );
        drop(pool);
        assert_eq!(counter.get(), 3 * (i + 1));
    }
}

#[test]
fn many_short_lived_threads_lose_nothing_and_the_counts_add_up() {
    let pool = pool();
    let counter = Counter::new();
    for _ in 0..20 {
        thread::scope(|s| {
            for _ in 0..16 {
                s.spawn(|| {
                    for _ in 0..5 {
                        pool.drop(counter.token());
                    }
                });
            }
        });
    }
    pool.flush();
    let stats = pool.stats();
    assert_eq!(counter.get(), 20 * 16 * 5);
    assert_eq!(stats.total(), 20 * 16 * 5, "{stats}");
    assert_eq!(
        (stats.deferred, stats.pending),
        (stats.completed, 0),
        "{stats}"
    );
}

/// Blocks its worker until released.
struct Slow(mpsc::Receiver<()>);

impl Drop for Slow {
    fn drop(&mut self) {
        let _ = self.0.recv();
    }
}

#[test]
fn a_slow_destructor_does_not_hold_back_the_values_staged_after_it() {
    // With two workers, the values that travel in the same stage as a slow value are
    // taken by the other worker instead of waiting behind it.
    let pool = Bgdrop::builder()
        .threads(2)
        .thread_name("bgdrop-pair")
        .build()
        .unwrap();
    let log = Log::new();
    let (release, gate) = mpsc::channel::<()>();
    pool.drop(Slow(gate));
    for i in 0..10 {
        pool.drop(log.witness(&format!("after {i}")));
    }
    for i in 0..10 {
        let name = format!("after {i}");
        eventually(&name, || !log.drops(&name).is_empty());
        log.assert_on_worker(&name);
    }
    release.send(()).unwrap();
    pool.flush();
    assert_eq!(pool.stats().completed, 11);
}

#[test]
fn one_worker_drops_a_threads_values_in_the_order_they_were_handed_over() {
    // One thread, one worker: values are staged, shipped and swept in order, and the
    // worker runs each stage from its start, so a value never overtakes an earlier
    // one (here: nothing overtakes a value that holds the worker).
    for _ in 0..20 {
        let pool = pool();
        let log = Log::new();
        let (release, gate) = mpsc::channel::<()>();
        pool.drop(Slow(gate));
        for i in 0..300 {
            pool.drop(log.witness(&format!("v{i}")));
            if i % 50 == 0 {
                thread::sleep(Duration::from_micros(300));
            }
        }
        thread::sleep(Duration::from_millis(5));
        for i in 0..300 {
            log.assert_alive(&format!("v{i}"));
        }
        release.send(()).unwrap();
        pool.flush();
    }
}
