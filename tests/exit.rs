//! The global pool drains at process exit: every value deferred before the end of
//! `main` is dropped, whichever way `main` ends.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const COUNT: usize = 500;

fn run_child(mode: &str) -> (Output, Vec<String>, Duration) {
    let dir = std::env::temp_dir().join(format!("bgdrop-exit-{}-{mode}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file: PathBuf = dir.join("witness.txt");
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_exit-child"))
        .args([mode, file.to_str().unwrap(), &COUNT.to_string()])
        .output()
        .expect("run the child process");
    let took = started.elapsed();
    let lines = std::fs::read_to_string(&file)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    (output, lines, took)
}

fn pending_at_exit(output: &Output) -> usize {
    let stderr = String::from_utf8_lossy(&output.stderr);
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("pending at exit: "))
        .unwrap_or_else(|| panic!("child did not report: {stderr}"))
        .parse()
        .unwrap()
}

#[test]
fn returning_from_main_drains_the_global_pool() {
    let (output, lines, _) = run_child("return");
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        pending_at_exit(&output),
        COUNT,
        "every value was still queued: {output:?}"
    );
    assert_eq!(lines.len(), COUNT, "{output:?}");
}

#[test]
fn process_exit_drains_the_global_pool() {
    let (output, lines, _) = run_child("exit");
    assert!(output.status.success(), "{output:?}");
    assert_eq!(pending_at_exit(&output), COUNT, "{output:?}");
    assert_eq!(lines.len(), COUNT, "{output:?}");
}

#[test]
fn a_panic_in_main_drains_the_global_pool() {
    let (output, lines, _) = run_child("panic");
    assert_eq!(output.status.code(), Some(101), "{output:?}");
    assert_eq!(pending_at_exit(&output), COUNT, "{output:?}");
    assert_eq!(lines.len(), COUNT, "{output:?}");
}

#[test]
fn values_deferred_by_destructors_during_the_drain_are_dropped_too() {
    let (output, lines, _) = run_child("late");
    assert!(output.status.success(), "{output:?}");
    assert_eq!(lines.len(), COUNT + 10, "{output:?}");
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("cascade")).count(),
        10
    );
}

#[test]
fn a_destructor_that_never_returns_delays_exit_only_by_the_exit_timeout() {
    let (output, lines, took) = run_child("stuck");
    assert!(output.status.success(), "{output:?}");
    // The stuck destructor never wrote; the exiting thread dropped all the others.
    assert_eq!(lines.len(), COUNT - 1, "{output:?}");
    assert!(!lines.iter().any(|l| l == "first"));
    // Bounded by the 300 ms exit timeout (plus process start-up on a loaded machine).
    assert!(took < Duration::from_secs(20), "took {took:?}");
}

#[test]
fn a_batch_released_before_exit_is_drained_too() {
    let (output, lines, _) = run_child("batch");
    assert!(output.status.success(), "{output:?}");
    assert_eq!(lines.len(), COUNT, "{output:?}");
}

#[test]
fn values_deferred_by_a_thread_local_destructor_after_main_returns_are_dropped() {
    let (output, lines, _) = run_child("tls");
    assert!(output.status.success(), "{output:?}");
    assert_eq!(lines.len(), COUNT + 10, "{output:?}");
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("cascade")).count(),
        10
    );
}

#[test]
fn values_replaced_in_a_slot_and_the_slot_itself_are_drained_at_exit() {
    let (output, lines, _) = run_child("slot");
    assert!(output.status.success(), "{output:?}");
    assert_eq!(lines.len(), COUNT, "{output:?}");
}

#[test]
fn shared_values_released_by_another_thread_are_drained_at_exit() {
    let (output, lines, _) = run_child("shared");
    assert!(output.status.success(), "{output:?}");
    assert_eq!(lines.len(), COUNT, "{output:?}");
}
