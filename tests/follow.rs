//! `Builder::follow_caller_cpu`: values freed on their thread's CPU in its idle
//! time, at most one waiting per thread, none lost.

use bgdrop::{Bgdrop, FullPolicy};
use bgdrop_suite::{Counter, Log};
use std::sync::mpsc;
use std::time::Duration;

fn follow_pool(name: &str) -> Bgdrop {
    Bgdrop::builder()
        .follow_caller_cpu(true)
        .thread_name(name)
        .build()
        .expect("spawn a worker")
}

/// Blocks its worker until released, after saying it has entered.
struct Gate {
    entered: mpsc::Sender<()>,
    release: mpsc::Receiver<()>,
}

impl Drop for Gate {
    fn drop(&mut self) {
        let _ = self.entered.send(());
        let _ = self.release.recv();
    }
}

/// Hands `pool` a gate and returns once a worker is stuck in it; it stays there
/// until the returned sender sends or is dropped. Waiting leaves this thread's CPU
/// idle, which is when a following worker takes the gate.
fn hold_worker(pool: &Bgdrop) -> mpsc::Sender<()> {
    let (release_tx, release) = mpsc::channel();
    let (entered, worker_in) = mpsc::channel();
    pool.drop(Gate { entered, release });
    worker_in
        .recv_timeout(Duration::from_mins(1))
        .expect("the worker takes the gate");
    release_tx
}

#[test]
fn a_value_handed_over_while_the_previous_one_waits_is_dropped_by_its_caller() {
    let pool = follow_pool("bgdrop-follow-busy");
    let log = Log::new();
    let release = hold_worker(&pool);
    let before = pool.stats();
    // The worker is stuck: a value handed over now waits in this thread's stage. (A
    // worker that had to wait long for this thread's CPU has it drop its next few
    // values itself first, at most 256: skip those.)
    let waiting = (0..=256)
        .map(|i| format!("a{i}"))
        .find(|name| {
            pool.drop(log.witness(name));
            log.drops(name).is_empty()
        })
        .expect("a value is staged");
    let refused = waiting[1..].parse::<u64>().expect("a number");
    // `b` cannot join it.
    pool.drop(log.witness("b"));
    log.assert_alive(&waiting);
    log.assert_inline("b");
    let stats = pool.stats();
    assert_eq!(stats.deferred - before.deferred, 1, "{stats:?}");
    assert_eq!(
        stats.inline_busy - before.inline_busy,
        refused + 1,
        "{stats:?}"
    );
    release.send(()).expect("the gate is waiting");
    pool.flush();
    log.assert_on_worker(&waiting);
    assert_eq!(pool.stats().pending, 0);
}

#[test]
fn every_value_is_dropped_once_whether_deferred_or_dropped_by_its_caller() {
    let pool = follow_pool("bgdrop-follow-all");
    let counter = Counter::new();
    for round in 0..50 {
        for _ in 0..10 {
            pool.drop((0..4).map(|_| counter.token()).collect::<Vec<_>>());
        }
        if round % 2 == 0 {
            // Blocks this thread, so its CPU is idle: the worker gets there.
            pool.flush();
        }
    }
    pool.flush();
    assert_eq!(counter.get(), 2_000);
    let stats = pool.stats();
    assert_eq!(stats.deferred + stats.inline_busy, 500, "{stats:?}");
    // At least the first value: a round can be all refusals after a worker waited
    // long for this thread's CPU, which other tests can keep busy.
    assert!(stats.deferred >= 1, "{stats:?}");
    assert_eq!((stats.completed, stats.pending), (stats.deferred, 0));
}

#[test]
fn the_value_of_a_thread_that_has_exited_is_dropped() {
    let pool = follow_pool("bgdrop-follow-exit");
    let log = Log::new();
    std::thread::scope(|s| {
        s.spawn(|| pool.drop(log.witness("left behind")));
    });
    pool.flush();
    log.assert_on_worker("left behind");
}

#[test]
fn values_handed_over_from_several_threads_are_all_dropped() {
    let pool = follow_pool("bgdrop-follow-threads");
    let counter = Counter::new();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for i in 0..200 {
                    pool.drop(counter.token());
                    if i % 20 == 0 {
                        pool.flush();
                    }
                }
            });
        }
    });
    pool.flush();
    assert_eq!(counter.get(), 800);
    let stats = pool.stats();
    assert_eq!(stats.deferred + stats.inline_busy, 800, "{stats:?}");
    assert_eq!(stats.pending, 0);
}

#[test]
fn a_pool_that_blocks_when_full_does_not_stage_and_ignores_it() {
    let pool = Bgdrop::builder()
        .follow_caller_cpu(true)
        .when_full(FullPolicy::Block)
        .build()
        .expect("spawn a worker");
    let counter = Counter::new();
    for _ in 0..100 {
        pool.drop(counter.token());
    }
    pool.flush();
    assert_eq!(counter.get(), 100);
    let stats = pool.stats();
    assert_eq!((stats.deferred, stats.inline()), (100, 0), "{stats:?}");
}

/// The value of the line starting with `key` in the `/proc` status file `path`
/// (Linux).
#[cfg(target_os = "linux")]
fn status_line(path: &str, key: &str) -> String {
    let status = std::fs::read_to_string(path).expect("a thread's status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap_or_else(|| panic!("a {key} line in {path}"))
        .trim()
        .to_owned()
}

/// The CPUs a thread of this process may run on, from `/proc` (Linux).
#[cfg(target_os = "linux")]
fn cpus_allowed(task: &str) -> String {
    status_line(
        &format!("/proc/self/task/{task}/status"),
        "Cpus_allowed_list:",
    )
}

/// The `/proc/self/task` entry of the thread named `name`.
#[cfg(target_os = "linux")]
fn task_named(name: &str) -> Option<String> {
    std::fs::read_dir("/proc/self/task")
        .expect("this process's threads")
        .filter_map(Result::ok)
        .find(|t| std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == name))
        .map(|t| t.file_name().to_string_lossy().into_owned())
}

#[cfg(target_os = "linux")]
#[test]
fn the_worker_is_confined_to_one_cpu_while_it_drops_a_value_and_only_then() {
    let pool = follow_pool("bgdrop-home");
    // A flush returns once the worker has run, so its thread exists by then.
    pool.flush();
    let worker = task_named("bgdrop-home-0").expect("the worker thread");
    let home = cpus_allowed(&worker);
    if home.contains(['-', ',']) {
        // A worker that got this thread's CPU only after a long wait while the
        // thread was runnable (other tests kept the CPUs busy) drops the value back
        // home instead: a few tries, one of which finds the CPU idle at once.
        let mut seen = Vec::new();
        for _ in 0..5 {
            let release = hold_worker(&pool);
            let confined = cpus_allowed(&worker);
            drop(release);
            if !confined.contains(['-', ',']) {
                break;
            }
            seen.push(confined);
        }
        assert!(
            seen.len() < 5,
            "in a destructor, the worker may run on {seen:?}, not one CPU"
        );
    }
    let counter = Counter::new();
    for _ in 0..20 {
        pool.drop(counter.token());
        pool.flush();
    }
    assert_eq!(counter.get(), 20);
    // The worker goes back after the sweep that took the value, which can end just
    // after the flush returns: wait for it, without a fixed delay.
    let deadline = std::time::Instant::now() + Duration::from_mins(1);
    while cpus_allowed(&worker) != home {
        assert!(
            std::time::Instant::now() < deadline,
            "the worker stays confined to {}",
            cpus_allowed(&worker)
        );
        std::thread::yield_now();
    }
}

/// This thread's voluntary context switches so far, from `/proc` (Linux).
#[cfg(target_os = "linux")]
fn voluntary_switches() -> u64 {
    status_line("/proc/thread-self/status", "voluntary_ctxt_switches:")
        .parse()
        .expect("a count")
}

#[test]
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
fn a_thread_that_never_blocks_between_its_values_drops_them_itself() {
    let pool = follow_pool("bgdrop-follow-spin");
    let counter = Counter::new();
    let before = pool.stats();
    let blocked_before = voluntary_switches();
    // Between two values this thread only spins and yields, which leaves it
    // runnable: a worker gets its CPU only when the scheduler lends it a slice.
    let deadline = std::time::Instant::now() + Duration::from_mins(1);
    for i in 1..=10 {
        pool.drop(counter.token());
        if i == 1 {
            // The first value waits for a worker (there is no earlier count to
            // compare with). Wait until it is dropped, without blocking.
            while counter.get() == 0 {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the first value waits"
                );
                std::thread::yield_now();
            }
        }
    }
    let blocked = voluntary_switches() - blocked_before;
    let stats = pool.stats();
    let deferred = stats.deferred - before.deferred;
    // Each time this thread did block (nothing here should), one more value could
    // have been deferred.
    assert!(deferred >= 1, "{stats:?}");
    assert!(
        deferred <= 1 + blocked,
        "blocked {blocked} times: {stats:?}"
    );
    assert_eq!(stats.inline_busy - before.inline_busy, 10 - deferred);
    pool.flush();
    assert_eq!(counter.get(), 10);
}
