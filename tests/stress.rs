//! Many producers, random values, destructors that panic, defer more values or take a
//! lock, random flushes, pools created and dropped concurrently: every destructor runs
//! exactly once and the stats add up.
//!
//! Runs for `BGDROP_STRESS_SECS` seconds (default 3).

use bgdrop::{Bgdrop, FullPolicy};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// A small xorshift generator: deterministic per seed, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Counts destructor runs of every value made in the test.
#[derive(Default)]
struct Ledger {
    made: AtomicU64,
    dropped: AtomicU64,
    panics: AtomicU64,
}

static LOCK: Mutex<u64> = Mutex::new(0);

enum Behaviour {
    Plain,
    Panic,
    /// Defers this many more values to the pool from the destructor.
    Spawn(Bgdrop, u32),
    Lock,
}

struct Value {
    ledger: Arc<Ledger>,
    behaviour: Behaviour,
    payload: Vec<u64>,
    seed: u64,
}

impl Value {
    fn new(ledger: &Arc<Ledger>, behaviour: Behaviour, size: usize, seed: u64) -> Value {
        ledger.made.fetch_add(1, Ordering::SeqCst);
        Value {
            ledger: Arc::clone(ledger),
            behaviour,
            payload: vec![seed; size],
            seed,
        }
    }
}

impl Drop for Value {
    fn drop(&mut self) {
        self.ledger.dropped.fetch_add(1, Ordering::SeqCst);
        match std::mem::replace(&mut self.behaviour, Behaviour::Plain) {
            Behaviour::Plain => {}
            Behaviour::Panic => {
                self.ledger.panics.fetch_add(1, Ordering::SeqCst);
                panic!("stress: planned panic");
            }
            Behaviour::Spawn(pool, n) => {
                for i in 0..n {
                    pool.drop(Value::new(
                        &self.ledger,
                        Behaviour::Plain,
                        (i as usize) * 3,
                        self.seed ^ u64::from(i),
                    ));
                }
            }
            Behaviour::Lock => {
                *LOCK
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) += 1;
            }
        }
    }
}

fn random_value(rng: &mut Rng, ledger: &Arc<Ledger>, pool: &Bgdrop) -> Value {
    let behaviour = match rng.below(100) {
        0..=1 => Behaviour::Panic,
        2..=6 => Behaviour::Spawn(pool.clone(), rng.below(4) as u32),
        7..=11 => Behaviour::Lock,
        _ => Behaviour::Plain,
    };
    let size = match rng.below(10) {
        0 => 10_000,
        1..=3 => 100,
        _ => rng.below(8) as usize,
    };
    Value::new(ledger, behaviour, size, rng.next())
}

fn duration() -> Duration {
    let secs = std::env::var("BGDROP_STRESS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if cfg!(miri) { 0.2 } else { 3.0 });
    Duration::from_secs_f64(secs)
}

#[test]
fn stress_every_destructor_runs_exactly_once() {
    // Panics are expected: keep their messages out of the output.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
        let planned = info
            .payload()
            .downcast_ref::<&str>()
            .is_some_and(|m| m.starts_with("stress:"));
        if !planned {
            eprintln!("{info}");
        }
    }));

    let ledger = Arc::new(Ledger::default());
    let stop = AtomicBool::new(false);
    let end = Instant::now() + duration();
    let policies = [FullPolicy::DropInline, FullPolicy::Block, FullPolicy::Grow];
    let shared = Bgdrop::builder()
        .threads(2)
        .capacity(64)
        .when_full(FullPolicy::Block)
        .build()
        .unwrap();
    let totals = Mutex::new(Vec::new());

    thread::scope(|s| {
        // Producers on one long-lived pool, with random flushes.
        for t in 0..4u64 {
            let (ledger, shared, stop) = (&ledger, &shared, &stop);
            s.spawn(move || {
                let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (t + 1));
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..rng.below(200) {
                        let v = random_value(&mut rng, ledger, shared);
                        let cheap_path = rng.below(4) == 0;
                        // A value dropped inline panics on the caller, as it would
                        // without bgdrop.
                        let _ = catch_unwind(AssertUnwindSafe(|| {
                            if cheap_path {
                                shared.drop_with_threshold(Costed(v), 2);
                            } else {
                                shared.drop(v);
                            }
                        }));
                    }
                    if rng.below(8) == 0 {
                        shared.flush();
                    }
                }
            });
        }
        // Short-lived pools, created and dropped concurrently with their producers.
        for t in 0..2u64 {
            let (ledger, stop, totals) = (&ledger, &stop, &totals);
            s.spawn(move || {
                let mut rng = Rng(0xD1B5_4A32_D192_ED03 ^ (t + 1));
                while !stop.load(Ordering::Relaxed) {
                    let pool = Bgdrop::builder()
                        .threads(1 + rng.below(3) as usize)
                        .capacity(1 + rng.below(32) as usize)
                        .when_full(policies[rng.below(3) as usize])
                        .build()
                        .unwrap();
                    thread::scope(|inner| {
                        for _ in 0..2 {
                            let pool = pool.clone();
                            let seed = rng.next();
                            inner.spawn(move || {
                                let mut rng = Rng(seed | 1);
                                for _ in 0..rng.below(300) {
                                    let v = random_value(&mut rng, ledger, &pool);
                                    let _ = catch_unwind(AssertUnwindSafe(|| pool.drop(v)));
                                }
                            });
                        }
                    });
                    let stats = pool.stats();
                    totals.lock().unwrap().push(stats);
                    drop(pool);
                }
            });
        }
        while Instant::now() < end {
            thread::park_timeout(end.saturating_duration_since(Instant::now()));
        }
        stop.store(true, Ordering::Relaxed);
    });

    shared.flush();
    let stats = shared.stats();
    std::panic::set_hook(hook);

    // The shared pool was flushed; short-lived pools may still be draining.
    let (dropped, made) = wait_for_balance(&ledger);
    assert!(made > 1000, "the stress test made only {made} values");
    assert_eq!(dropped, made, "made {made}, dropped {dropped}");
    assert_eq!(stats.completed, stats.deferred, "{stats}");
    assert_eq!(stats.pending, 0, "{stats}");
    assert!(stats.panicked <= ledger.panics.load(Ordering::SeqCst));
    assert!(ledger.panics.load(Ordering::SeqCst) > 0);
    for s in totals.lock().unwrap().iter() {
        assert_eq!(s.completed + s.pending, s.deferred, "{s}");
    }
}

/// Waits (with a generous bound) until every value made has been dropped, and
/// returns `(dropped, made)`.
///
/// A short-lived pool whose last handle was dropped by its own worker (a queued
/// value held a clone) is still being drained by that worker, and its destructors
/// may still make values (the `Spawn` behaviour). `dropped` is read before `made`,
/// so without a double drop it can never exceed it.
fn wait_for_balance(ledger: &Ledger) -> (u64, u64) {
    let deadline = Instant::now() + Duration::from_mins(1);
    loop {
        let dropped = ledger.dropped.load(Ordering::SeqCst);
        let made = ledger.made.load(Ordering::SeqCst);
        if dropped >= made || Instant::now() >= deadline {
            return (dropped, made);
        }
        thread::yield_now();
    }
}

/// A value whose [`bgdrop::DropCost`] is its payload's.
struct Costed(Value);

impl bgdrop::DropCost for Costed {
    fn drop_cost(&self) -> usize {
        self.0.payload.drop_cost()
    }
}
