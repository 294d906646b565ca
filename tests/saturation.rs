//! A pool whose workers a producer keeps busy without a break counts as saturated
//! (`Builder::inline_when_saturated`): callers drop inline for a while, then hand
//! values over again. Nothing is lost either way, a burst does not saturate a pool,
//! and the option turns it off.
//!
//! No assertion here depends on how fast anything runs: the positive cases poll for
//! the state change with a generous deadline (a liveness check), and the negative
//! ones hold whatever the timing.

use bgdrop::{Bgdrop, FullPolicy};
use bgdrop_suite::{Counter, Token};
use std::time::{Duration, Instant};

/// A value whose destructor takes about `self.0` of a worker's time.
struct Slow(Duration, #[allow(dead_code)] Token);

impl Drop for Slow {
    fn drop(&mut self) {
        let end = Instant::now() + self.0;
        while Instant::now() < end {
            std::hint::spin_loop();
        }
    }
}

const DROP_TIME: Duration = Duration::from_micros(50);

/// Whether a worker is saturated depends on how much of its time it spends working,
/// so these tests run one at a time: run side by side, their spinning producers
/// and destructors would take the CPUs from each other's workers (2 here), and a
/// worker kept off its CPU in the middle of a drop looks busy.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Hands `pool` slow values until `done` says so or a minute passes; returns how
/// many it handed over.
fn stream(pool: &Bgdrop, counter: &Counter, mut done: impl FnMut(&Bgdrop) -> bool) -> usize {
    let deadline = Instant::now() + Duration::from_mins(1);
    let mut handed = 0;
    while !done(pool) {
        assert!(Instant::now() < deadline, "the pool never changed state");
        pool.drop(Slow(DROP_TIME, counter.token()));
        handed += 1;
        // About as fast as the worker drops them: it never runs dry, and the queue
        // never fills.
        let pace = Instant::now() + DROP_TIME;
        while Instant::now() < pace {
            std::hint::spin_loop();
        }
    }
    handed
}

#[test]
fn a_sustained_stream_saturates_the_pool_and_the_pool_recovers() {
    let _serial = one_at_a_time();
    // A capacity the stream cannot fill: any inline drop is the saturation's.
    let pool = Bgdrop::builder().capacity(1 << 20).build().unwrap();
    let counter = Counter::new();
    let handed = stream(&pool, &counter, |p| p.stats().inline_full > 0);
    let stats = pool.stats();
    assert!(stats.deferred > 0, "{stats}");
    assert_eq!(stats.total(), handed as u64, "{stats}");

    // Saturated, it stays so only for a while: once the stream stops and the hold
    // passes, a value is handed over again.
    let deferred = pool.stats().deferred;
    let deadline = Instant::now() + Duration::from_mins(1);
    let mut after = 0;
    while pool.stats().deferred == deferred {
        assert!(Instant::now() < deadline, "the pool stayed saturated");
        std::thread::sleep(Duration::from_millis(10));
        pool.drop(Slow(Duration::ZERO, counter.token()));
        after += 1;
    }
    pool.flush();
    assert_eq!(counter.get(), handed + after, "a value was lost");
    let stats = pool.stats();
    assert_eq!(stats.completed, stats.deferred, "{stats}");
    assert_eq!(stats.total(), (handed + after) as u64, "{stats}");
}

/// Streams into `pool` for 300 ms, ten times what saturating a pool takes, and
/// checks that every value went to the workers.
fn assert_never_sent_back(pool: &Bgdrop, what: &str) {
    let counter = Counter::new();
    let start = Instant::now();
    let handed = stream(pool, &counter, |_| {
        start.elapsed() > Duration::from_millis(300)
    });
    pool.flush();
    let stats = pool.stats();
    assert_eq!(stats.inline_full, 0, "{what}: {stats}");
    assert_eq!(stats.deferred, handed as u64, "{what}: {stats}");
    assert_eq!(counter.get(), handed, "{what}");
}

#[test]
fn a_pool_with_the_option_off_never_drops_inline_for_saturation() {
    let _serial = one_at_a_time();
    let pool = Bgdrop::builder()
        .capacity(1 << 20)
        .inline_when_saturated(false)
        .build()
        .unwrap();
    assert_never_sent_back(&pool, "inline_when_saturated(false)");
}

#[test]
fn a_burst_handed_over_at_once_does_not_saturate_the_pool() {
    let _serial = one_at_a_time();
    let pool = Bgdrop::builder().capacity(1 << 20).build().unwrap();
    let counter = Counter::new();
    // About 100 ms of work for the worker, handed over in well under a millisecond:
    // nothing arrives while it works.
    let values = 2_000;
    for _ in 0..values {
        pool.drop(Slow(DROP_TIME, counter.token()));
    }
    pool.flush();
    let stats = pool.stats();
    assert_eq!(stats.inline_full, 0, "{stats}");
    assert_eq!(stats.deferred, values, "{stats}");
    assert_eq!(counter.get(), values as usize);
}

#[test]
fn other_policies_never_saturate() {
    let _serial = one_at_a_time();
    for policy in [FullPolicy::Block, FullPolicy::Grow] {
        let pool = Bgdrop::builder()
            .capacity(1 << 20)
            .when_full(policy)
            .build()
            .unwrap();
        assert_never_sent_back(&pool, &format!("{policy:?}"));
    }
}

#[test]
fn a_worker_that_keeps_up_with_frequent_small_values_is_not_saturated() {
    let _serial = one_at_a_time();
    // A value every 10 µs whose drop (one atomic add) takes a small fraction of that,
    // even in an AddressSanitizer build: the worker hardly ever sleeps (the next
    // value is always near), yet it is idle most of the time.
    let pool = Bgdrop::builder().capacity(1 << 20).build().unwrap();
    let counter = Counter::new();
    let start = Instant::now();
    let mut handed = 0;
    while start.elapsed() < Duration::from_millis(300) {
        pool.drop(counter.token());
        handed += 1;
        let pace = Instant::now() + Duration::from_micros(10);
        while Instant::now() < pace {
            std::hint::spin_loop();
        }
    }
    pool.flush();
    let stats = pool.stats();
    assert_eq!(stats.inline_full, 0, "{stats}");
    assert_eq!(stats.deferred, handed, "{stats}");
    assert_eq!(counter.get(), handed as usize);
}

/// A value that counts the drops that ran on the thread that made it.
struct Homebound(
    std::thread::ThreadId,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
);

impl Drop for Homebound {
    fn drop(&mut self) {
        if std::thread::current().id() == self.0 {
            self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

#[test]
fn only_the_streaming_thread_drops_inline_while_the_pool_is_saturated() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    let _serial = one_at_a_time();
    let pool = Bgdrop::builder().capacity(1 << 20).build().unwrap();
    let saturated = Arc::new(AtomicBool::new(false));
    // A thread that hands over a value now and then, as a frame loop would.
    let sparse = {
        let pool = pool.clone();
        let saturated = Arc::clone(&saturated);
        std::thread::spawn(move || {
            let at_home = Arc::new(AtomicUsize::new(0));
            let mut handed = 0;
            let mut after = 0;
            // Until the streaming thread saturated the pool, and 20 more values.
            while after < 20 {
                pool.drop(Homebound(std::thread::current().id(), Arc::clone(&at_home)));
                handed += 1;
                if saturated.load(Ordering::Relaxed) {
                    after += 1;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            pool.flush();
            (handed, at_home.load(Ordering::Relaxed))
        })
    };
    let counter = Counter::new();
    let streamed = stream(&pool, &counter, |p| p.stats().inline_full > 0);
    saturated.store(true, Ordering::Relaxed);
    // Keep streaming while the other thread hands over its last values.
    let mut more = 0;
    while !sparse.is_finished() {
        pool.drop(Slow(DROP_TIME, counter.token()));
        more += 1;
    }
    let (handed, at_home) = sparse.join().unwrap();
    assert_eq!(
        at_home, 0,
        "{at_home} of {handed} values were dropped on their thread"
    );
    pool.flush();
    assert_eq!(counter.get(), streamed + more);
}
