//! Tails, idle behaviour and wake-ups, every contender in one run (issue 4, items 2
//! and 5, and the idle pool). A `harness = false` bench: it reports percentiles of
//! individually timed caller operations, which criterion does not.
//!
//! ```text
//! cargo bench --bench tails                        # glibc malloc
//! cargo bench --bench tails --features mimalloc    # mimalloc
//! ```
//!
//! - `sparse`: one tree of height 10 handed off every 2 ms, so the worker goes idle
//!   in between; each hand-off timed on its own. `SPARSE_N` values per contender
//!   (default 500).
//! - `paced`: frames every 4 ms; each builds a 20 000-entry `HashMap<u64, Vec<u8>>`
//!   and gets rid of it; frame time = build + hand-off. `FRAMES` frames per
//!   contender (default 500), in interleaved blocks of 50.
//! - `b2b`: the same frames back to back, no sleep.
//! - `idle`: a bgdrop pool's worker wake-ups per second (voluntary context switches
//!   of its thread, from `/proc`) while warm and once idle for over a second, and how
//!   long a value handed to an idle pool waits before it is dropped.
//!
//! `TAILS_ONLY=sparse,paced,b2b,idle` selects parts.

#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    reason = "durations in ns and counts are far below 2^52"
)]

#[path = "common/mod.rs"]
mod common;

use common::{Droppers, Who, env_or, fmt_ns, percentile, tree};
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

fn main() {
    let only = std::env::var("TAILS_ONLY").unwrap_or_else(|_| "sparse,paced,b2b,idle".into());
    common::print_header("tails");
    let d = Droppers::new();
    if only.contains("sparse") {
        sparse(&d);
    }
    if only.contains("paced") {
        frames(&d, true);
    }
    if only.contains("b2b") {
        frames(&d, false);
    }
    if only.contains("idle") {
        idle();
    }
}

const PCTS: [(&str, f64); 5] = [
    ("p50", 50.0),
    ("p90", 90.0),
    ("p99", 99.0),
    ("p99.9", 99.9),
    ("max", 100.0),
];

fn table(results: &mut [(Who, Vec<u64>)], baseline: Who) {
    for (_, s) in results.iter_mut() {
        s.sort_unstable();
    }
    let base: Vec<u64> = results
        .iter()
        .find(|r| r.0 == baseline)
        .map(|r| PCTS.iter().map(|&(_, p)| percentile(&r.1, p)).collect())
        .unwrap_or_default();
    print!("| contender |");
    for (l, _) in PCTS {
        print!(" {l} |");
    }
    println!(" p99.9 vs {} |", baseline.name());
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (who, s) in results.iter() {
        print!("| {} |", who.name());
        for (_, p) in PCTS {
            print!(" {} |", fmt_ns(percentile(s, p) as f64));
        }
        let r = percentile(s, 99.9) as f64 / base.get(3).copied().unwrap_or(1).max(1) as f64;
        println!(" {r:.2}× |");
    }
}

/// Item 2: one value every 2 ms.
fn sparse(d: &Droppers) {
    let n = env_or("SPARSE_N", 500);
    // What `Instant::now()` twice costs, to read the numbers below against.
    let mut clock: Vec<u64> = (0..1000)
        .map(|_| {
            let t = Instant::now();
            t.elapsed().as_nanos() as u64
        })
        .collect();
    clock.sort_unstable();
    let mut results: Vec<(Who, Vec<u64>)> = Who::ALL
        .iter()
        .filter(|&&w| w != Who::Inline)
        .map(|&w| (w, Vec::with_capacity(n)))
        .collect();
    for (who, samples) in &mut results {
        d.settle(*who);
        let mut next = Instant::now();
        for _ in 0..n {
            let value = tree(10);
            next += Duration::from_millis(2);
            if let Some(wait) = next.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let start = Instant::now();
            d.discard(*who, value);
            samples.push(start.elapsed().as_nanos() as u64);
        }
        d.settle(*who);
    }
    println!(
        "\n## sparse: one tree of height 10 every 2 ms, {n} values — caller time per hand-off (timer overhead p50 {})",
        fmt_ns(percentile(&clock, 50.0) as f64)
    );
    table(&mut results, Who::Seed);
}

fn build_map(seed: u64) -> HashMap<u64, Vec<u8>> {
    (0..20_000u64)
        .map(|i| {
            (
                i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ seed,
                vec![i as u8; 24],
            )
        })
        .collect()
}

/// Item 5: frames that build and throw away a 20 000-entry map, paced or back to back.
fn frames(d: &Droppers, paced: bool) {
    const TICK: Duration = Duration::from_millis(4);
    const BLOCK: usize = 50;
    let n = env_or("FRAMES", 500);
    let mut results: Vec<(Who, Vec<u64>)> = Who::ALL
        .iter()
        .map(|&w| (w, Vec::with_capacity(n)))
        .collect();
    let started = Instant::now();
    let mut round = 0;
    while results.iter().any(|r| r.1.len() < n) {
        for k in 0..results.len() {
            let i = (k + round) % results.len();
            let who = results[i].0;
            let todo = BLOCK.min(n - results[i].1.len());
            d.settle(who);
            let mut next = Instant::now() + TICK;
            for f in 0..todo {
                let start = Instant::now();
                let map = build_map(f as u64);
                black_box(&map);
                d.discard(who, map);
                results[i].1.push(start.elapsed().as_nanos() as u64);
                if paced {
                    let now = Instant::now();
                    if next > now {
                        std::thread::sleep(next - now);
                        next += TICK;
                    } else {
                        next = now + TICK;
                    }
                }
            }
        }
        round += 1;
    }
    let total = started.elapsed();
    if paced {
        println!(
            "\n## paced: 4 ms tick, each frame builds and hands off a 20 000-entry map, {n} frames — frame time"
        );
    } else {
        println!(
            "\n## b2b: back-to-back frames, each builds and hands off a 20 000-entry map, {n} frames — frame time (whole run {})",
            fmt_ns(total.as_nanos() as f64)
        );
    }
    table(&mut results, Who::Inline);
    let mut means: Vec<String> = Vec::new();
    for (who, s) in &results {
        let mean = s.iter().sum::<u64>() as f64 / s.len().max(1) as f64;
        means.push(format!("{} {}", who.name(), fmt_ns(mean)));
    }
    println!("mean frame: {}", means.join(", "));
}

/// The voluntary context switches of the thread named `name` in this process.
fn ctxt_switches(name: &str) -> Option<u64> {
    for entry in std::fs::read_dir("/proc/self/task").ok()? {
        let dir = entry.ok()?.path();
        let comm = std::fs::read_to_string(dir.join("comm")).ok()?;
        if comm.trim() == name {
            let status = std::fs::read_to_string(dir.join("status")).ok()?;
            return status
                .lines()
                .find(|l| l.starts_with("voluntary_ctxt_switches"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok());
        }
    }
    None
}

fn wakeups_over(name: &str, window: Duration) -> f64 {
    let a = ctxt_switches(name).unwrap_or(0);
    std::thread::sleep(window);
    let b = ctxt_switches(name).unwrap_or(0);
    (b - a) as f64 / window.as_secs_f64()
}

struct Stamp(Arc<Mutex<Option<Instant>>>);

impl Drop for Stamp {
    fn drop(&mut self) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Instant::now());
    }
}

/// The idle pool: wake-ups per second, and how long a value waits when idle.
fn idle() {
    let pool = bgdrop::Bgdrop::builder()
        .thread_name("idle-probe")
        .build()
        .expect("spawn a worker");
    let name = "idle-probe-0";
    pool.drop(vec![String::new(); 100]);
    pool.flush();
    let warm = wakeups_over(name, Duration::from_millis(900));
    std::thread::sleep(Duration::from_millis(300));
    let cold = wakeups_over(name, Duration::from_secs(2));
    // Latency from hand-off to drop, warm (10 ms after the previous value) and idle
    // (1.5 s after it). `flush` would wake the worker, so the caller polls instead.
    let lat_unflushed = |gap: Duration, count: usize| -> Vec<u64> {
        let mut v = Vec::new();
        for _ in 0..count {
            std::thread::sleep(gap);
            let cell = Arc::new(Mutex::new(None));
            let t = Instant::now();
            pool.drop(Stamp(Arc::clone(&cell)));
            let dropped = loop {
                if let Some(at) = *cell
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                {
                    break at;
                }
                std::thread::sleep(Duration::from_micros(200));
            };
            v.push(dropped.duration_since(t).as_nanos() as u64);
        }
        v.sort_unstable();
        v
    };
    let warm_lat = lat_unflushed(Duration::from_millis(10), 50);
    let cold_lat = lat_unflushed(Duration::from_millis(1500), env_or("IDLE_COLD_SAMPLES", 6));
    println!("\n## idle: bgdrop pool worker wake-ups and idle latency");
    println!("| state | worker wake-ups per second | hand-off → dropped p50 | max |");
    println!("|---|---:|---:|---:|");
    println!(
        "| warm (first second after a value) | {warm:.0} | {} | {} |",
        fmt_ns(percentile(&warm_lat, 50.0) as f64),
        fmt_ns(percentile(&warm_lat, 100.0) as f64)
    );
    println!(
        "| idle > 1 s | {cold:.1} | {} | {} |",
        fmt_ns(percentile(&cold_lat, 50.0) as f64),
        fmt_ns(percentile(&cold_lat, 100.0) as f64)
    );
    // The peers, for comparison: basedrop's collector thread polls every 1 ms.
    let b = common::BasedropThread::start();
    std::thread::sleep(Duration::from_millis(100));
    let basedrop_idle = wakeups_over("basedrop-collec", Duration::from_secs(1));
    drop(b);
    println!(
        "peers idle: bgdrop-0.1.2 and defer-drop block in a channel receive (0 wake-ups; a hand-off pays the futex wake); basedrop's collector thread with a 1 ms sleep: {basedrop_idle:.0}/s"
    );
}
