//! Where values are dropped: deferred values on a worker, cheap ones on the caller.

use bgdrop::{Bgdrop, DropCost, FullPolicy};
use bgdrop_suite::DropLog;
use bgdrop_suite::witness::Witness;
use std::thread;

#[test]
fn deferred_values_drop_on_a_worker_never_on_the_caller() {
    let pool = Bgdrop::new();
    let log = DropLog::new();
    for _ in 0..100 {
        pool.drop(log.witness());
    }
    pool.flush();
    assert_eq!(log.count(), 100);
    let me = thread::current().id();
    assert!(log.threads().iter().all(|(t, _)| *t != me));
    assert!(log.all_on_workers(), "{:?}", log.threads());
}

/// A value with a chosen drop cost.
struct Priced(usize, #[allow(dead_code)] Witness);

impl DropCost for Priced {
    fn drop_cost(&self) -> usize {
        self.0
    }
}

#[test]
fn values_under_the_threshold_drop_on_the_caller() {
    let pool = Bgdrop::builder().threshold(10).build().unwrap();
    let cheap = DropLog::new();
    let costly = DropLog::new();
    pool.drop_if_costly(Priced(9, cheap.witness()));
    pool.drop_if_costly(Priced(10, costly.witness()));
    pool.drop_with_threshold(Priced(500, cheap.witness()), 501);
    pool.drop_with_threshold(Priced(501, costly.witness()), 501);
    // Dropped before the call returned, on this thread.
    assert_eq!(cheap.count(), 2);
    assert!(cheap.all_on(thread::current().id()));
    pool.flush();
    assert_eq!(costly.count(), 2);
    assert!(costly.all_on_workers());
    let stats = pool.stats();
    assert_eq!((stats.inline_cheap, stats.deferred), (2, 2));
}

#[test]
fn default_threshold_keeps_small_std_values_inline() {
    let pool = Bgdrop::new();
    assert_eq!(pool.threshold(), bgdrop::DEFAULT_THRESHOLD);
    pool.drop_if_costly(vec![0u8; 16]);
    pool.drop_if_costly(String::from("short"));
    pool.drop_if_costly(vec![vec![0u8; 4]; 1000]);
    pool.drop_if_costly(vec![0u8; 64 << 20]);
    pool.flush();
    let stats = pool.stats();
    assert_eq!(stats.inline_cheap, 2);
    assert_eq!(stats.deferred, 2);
}

#[test]
fn values_without_destructors_are_not_handed_off() {
    let pool = Bgdrop::new();
    pool.drop(42);
    pool.drop([0u64; 32]);
    pool.flush();
    let stats = pool.stats();
    assert_eq!(stats.inline_cheap, 2);
    assert_eq!(stats.deferred, 0);
}

#[test]
fn clones_share_one_pool() {
    let pool = Bgdrop::with_threads(2);
    let other = pool.clone();
    assert!(pool.same_pool(&other));
    assert!(!pool.same_pool(&Bgdrop::new()));
    let log = DropLog::new();
    let w = log.witness();
    thread::spawn(move || other.drop(w)).join().unwrap();
    pool.flush();
    assert_eq!(log.count(), 1);
    assert_eq!(pool.stats().deferred, 1);
    assert_eq!(pool.stats().workers, 2);
}

#[test]
fn big_values_of_every_size_travel_intact() {
    // Inline storage (small), boxed storage (large, over-aligned), and zero-sized.
    #[repr(align(64))]
    struct Wide(#[allow(dead_code)] Witness);
    let log = DropLog::new();
    let pool = Bgdrop::new();
    pool.drop(log.witness());
    pool.drop([log.witness(), log.witness(), log.witness(), log.witness()]);
    pool.drop(Wide(log.witness()));
    pool.drop(Some(Box::new(log.witness())));
    pool.drop(std::collections::HashMap::from([(1, log.witness())]));
    pool.flush();
    assert_eq!(log.count(), 8);
    assert!(log.all_on_workers());
}

#[test]
fn builder_settings_show_in_stats_and_thread_names() {
    let pool = Bgdrop::builder()
        .threads(3)
        .capacity(7)
        .when_full(FullPolicy::Block)
        .thread_name("reaper")
        .build()
        .unwrap();
    let stats = pool.stats();
    assert_eq!(stats.workers, 3);
    assert_eq!(stats.capacity, Some(7));
    assert_eq!(stats.policy, FullPolicy::Block);
    let log = DropLog::new();
    pool.drop(log.witness());
    pool.flush();
    let name = log.threads()[0].1.clone().unwrap();
    assert!(name.starts_with("reaper-"), "{name}");

    let grow = Bgdrop::builder()
        .when_full(FullPolicy::Grow)
        .build()
        .unwrap();
    assert_eq!(grow.stats().capacity, None);
}

/// The seed crate's README example, as written.
#[test]
fn seed_readme_example_runs_unchanged() {
    use bgdrop::Bgdrop;

    // Create a background dropper with 1 thread
    let dropper = Bgdrop::new();

    // Drop a large Vec in the background
    let large_vec = vec![0u8; 10_000_000];
    dropper.drop(large_vec);

    // Create a background dropper with multiple threads
    let pool = Bgdrop::with_threads(4);
    for _ in 0..10 {
        pool.drop(vec![0u8; 1_000_000]);
    }

    // Also reachable through the seed's module paths.
    let _ = bgdrop::prelude::Bgdrop::new();
    let _ = bgdrop::bgdrop::Bgdrop::with_threads(1);
}

/// Reports the scheduling policy of the thread that drops it.
struct ReportPolicy(std::sync::mpsc::Sender<Option<String>>);

impl Drop for ReportPolicy {
    fn drop(&mut self) {
        let policy = std::fs::read_to_string("/proc/thread-self/sched")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("policy"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|p| p.trim().to_owned())
            });
        let _ = self.0.send(policy);
    }
}

#[test]
#[cfg(target_os = "linux")]
fn idle_priority_workers_run_in_the_idle_class() {
    let (tx, rx) = std::sync::mpsc::channel();
    let pool = Bgdrop::builder().idle_priority(true).build().unwrap();
    pool.drop(ReportPolicy(tx.clone()));
    let normal = Bgdrop::new();
    normal.drop(ReportPolicy(tx));
    let mut seen = vec![rx.recv().unwrap(), rx.recv().unwrap()];
    seen.sort();
    // SCHED_OTHER is 0 and SCHED_IDLE 5; where /proc lacks the file, nothing to check.
    if seen.iter().all(Option::is_some) {
        assert_eq!(seen, [Some("0".to_owned()), Some("5".to_owned())]);
    }
}

/// A pool idle for over a second (its worker in the cold sleep) still takes values,
/// whether it wakes the worker for them (the default) or leaves them for the next
/// poll; both settings run side by side to share the wait.
#[test]
fn a_pool_idle_for_over_a_second_takes_values_either_way() {
    let run = |wake: bool| {
        let log = bgdrop_suite::Log::new();
        let pool = Bgdrop::builder()
            .wake_cold_workers(wake)
            .thread_name(format!("bgdrop-cold-{wake}"))
            .build()
            .unwrap();
        pool.drop(log.witness("warm"));
        pool.flush();
        std::thread::sleep(std::time::Duration::from_millis(1200));
        pool.drop(log.witness("after the pause"));
        pool.flush();
        log.assert_on_worker("warm");
        log.assert_on_worker("after the pause");
        assert!(
            format!("{:?}", Bgdrop::builder().wake_cold_workers(wake))
                .contains(&format!("wake_cold_workers: {wake}"))
        );
    };
    std::thread::scope(|s| {
        s.spawn(|| run(true));
        s.spawn(|| run(false));
    });
}
