//! Bulk hand-offs, timed on the caller, every contender in one run (issue 4, items 1,
//! 4 and 6). A `harness = false` bench: each sample needs an expensive untimed setup
//! (a million allocations), which criterion's iteration planning cannot afford.
//!
//! ```text
//! cargo bench --bench bulk                         # glibc malloc
//! cargo bench --bench bulk --features mimalloc     # mimalloc
//! ```
//!
//! - `trees`: hand off 1000 binary trees of height 10 (1023 allocations each); the
//!   caller's loop time, per tree. `BULK_REPS` samples (default 11), median reported.
//! - `vec64m`: hand off one fully touched 64 MiB `Vec<u8>`, 5 ms after the contender
//!   went idle. `BULK_REPS` samples.
//! - `outrun`: the producer outruns the worker: build and hand off `OUTRUN_TREES`
//!   trees of height 8 (default 200 000) in a tight loop; producer time and peak RSS
//!   growth. Each contender runs in a child process of its own so that RSS is not
//!   polluted by the others; `OUTRUN_REPS` rounds (default 3), each running every
//!   contender once in an order rotated from the last round's. A contender's time
//!   against inline is the median of its per-round ratios, so that a machine that
//!   slows down for a while slows both sides of a ratio.
//!
//! `BULK_ONLY=trees,vec64m,outrun` selects parts.

#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    reason = "durations in ns and counts are far below 2^52"
)]

#[path = "common/mod.rs"]
mod common;

#[path = "../examples/support/median.rs"]
mod median;

use common::{Droppers, Who, env_or, fmt_ns, median, tree};
use std::hint::black_box;
use std::time::{Duration, Instant};

fn main() {
    if let Ok(name) = std::env::var("BGDROP_BENCH_OUTRUN_CHILD") {
        outrun_child(Who::from_name(&name).expect("a contender name"));
        return;
    }
    let only = std::env::var("BULK_ONLY").unwrap_or_else(|_| "trees,vec64m,outrun".into());
    common::print_header("bulk");
    if only.contains("trees") || only.contains("vec64m") {
        let d = Droppers::new();
        if only.contains("trees") {
            trees(&d);
        }
        if only.contains("vec64m") {
            vec64m(&d);
        }
    }
    if only.contains("outrun") {
        outrun();
    }
}

fn report(title: &str, unit_div: f64, results: &[(Who, Vec<u64>)]) {
    println!("\n## {title}");
    let seed = results
        .iter()
        .find(|(w, _)| *w == Who::Seed)
        .map(|(_, s)| median(s) as f64 / unit_div);
    println!("| contender | median | min | max | vs bgdrop-0.1.2 |\n|---|---:|---:|---:|---:|");
    for (who, samples) in results {
        let med = median(samples) as f64 / unit_div;
        let min = *samples.iter().min().unwrap_or(&0) as f64 / unit_div;
        let max = *samples.iter().max().unwrap_or(&0) as f64 / unit_div;
        let vs = seed.map_or(String::new(), |s| format!("{:.2}×", med / s));
        println!(
            "| {} | {} | {} | {} | {vs} |",
            who.name(),
            fmt_ns(med),
            fmt_ns(min),
            fmt_ns(max)
        );
    }
}

/// Item 1: 1000 trees of height 10, caller loop time per tree.
fn trees(d: &Droppers) {
    const TREES: usize = 1000;
    let reps = env_or("BULK_REPS", 11);
    let mut results: Vec<(Who, Vec<u64>)> = Who::ALL.iter().map(|&w| (w, Vec::new())).collect();
    for rep in 0..reps {
        for k in 0..results.len() {
            let i = (k + rep) % results.len();
            let who = results[i].0;
            let mut batch: Vec<_> = (0..TREES).map(|_| tree(10)).collect();
            d.settle(who);
            let start = Instant::now();
            for t in batch.drain(..) {
                d.discard(who, t);
            }
            let elapsed = start.elapsed();
            black_box(&batch);
            results[i].1.push(elapsed.as_nanos() as u64);
            d.settle(who);
        }
    }
    report(
        "trees: hand off 1000 trees of height 10 — caller time per tree",
        TREES as f64,
        &results,
    );
    let s = d.pool.stats();
    println!("bgdrop pool after trees: {s}");
}

/// Item 4: one touched 64 MiB `Vec<u8>`, handed off by an idle contender.
fn vec64m(d: &Droppers) {
    let reps = env_or("BULK_REPS", 11);
    let mut results: Vec<(Who, Vec<u64>)> = Who::ALL.iter().map(|&w| (w, Vec::new())).collect();
    for rep in 0..reps {
        for k in 0..results.len() {
            let i = (k + rep) % results.len();
            let who = results[i].0;
            let v = vec![1u8; 64 << 20];
            d.settle(who);
            std::thread::sleep(Duration::from_millis(5));
            let start = Instant::now();
            d.discard(who, v);
            let elapsed = start.elapsed();
            results[i].1.push(elapsed.as_nanos() as u64);
            d.settle(who);
        }
    }
    report(
        "vec64m: hand off a touched 64 MiB Vec<u8> — caller time",
        1.0,
        &results,
    );
}

/// Item 6, parent: one child process per contender and run.
fn outrun() {
    let reps = env_or("OUTRUN_REPS", 3);
    let trees = env_or("OUTRUN_TREES", 200_000);
    let exe = std::env::current_exe().expect("the bench binary's path");
    let mut rows: Vec<(Who, Vec<[u64; 3]>, String)> = Who::ALL
        .iter()
        .map(|&w| (w, Vec::new(), String::new()))
        .collect();
    let n = rows.len();
    for round in 0..reps {
        for k in 0..n {
            let row = &mut rows[(k + round) % n];
            let out = std::process::Command::new(&exe)
                .env("BGDROP_BENCH_OUTRUN_CHILD", row.0.name())
                .env("OUTRUN_TREES", trees.to_string())
                .output()
                .expect("run the outrun child");
            let text = String::from_utf8_lossy(&out.stdout);
            let line = text
                .lines()
                .find(|l| l.starts_with("OUTRUN "))
                .unwrap_or_else(|| panic!("child for {} printed no result: {text}", row.0.name()));
            let f: Vec<&str> = line.split_whitespace().collect();
            let nums = [f[1], f[2], f[3]].map(|x| x.parse::<u64>().expect("a number"));
            row.1.push(nums);
            row.2 = f[4..].join(" ");
        }
    }
    println!(
        "\n## outrun: build and hand off {trees} trees of height 8 in a tight loop (medians of {reps} rounds)"
    );
    let inline_runs: Option<Vec<u64>> = rows
        .iter()
        .find(|r| r.0 == Who::Inline)
        .map(|r| r.1.iter().map(|x| x[0]).collect());
    println!(
        "| contender | producer time | vs inline (per round) | peak RSS growth | time to drain after | notes |\n|---|---:|---:|---:|---:|---|"
    );
    for (who, runs, note) in &rows {
        let producer = median(&runs.iter().map(|x| x[0]).collect::<Vec<_>>()) as f64;
        let rss = median(&runs.iter().map(|x| x[1]).collect::<Vec<_>>());
        let drain = median(&runs.iter().map(|x| x[2]).collect::<Vec<_>>()) as f64;
        let vs = inline_runs.as_ref().map_or(String::new(), |inline| {
            let ratios: Vec<f64> = runs
                .iter()
                .zip(inline)
                .map(|(r, &i)| r[0] as f64 / i as f64)
                .collect();
            let shown: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
            format!("{:.2}× ({})", median::median(ratios), shown.join(", "))
        });
        println!(
            "| {} | {} | {vs} | {:.1} MiB | {} | {note} |",
            who.name(),
            fmt_ns(producer),
            rss as f64 / 1024.0,
            fmt_ns(drain)
        );
    }
}

/// A `/proc/self/status` field in KiB.
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Item 6, child: prints `OUTRUN producer_ns peak_rss_growth_kib drain_ns notes`.
fn outrun_child(who: Who) {
    let trees = env_or("OUTRUN_TREES", 200_000);
    let d = Droppers::new();
    // Reset the peak-RSS mark, so VmHWM is the peak from here on.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let base = status_kib("VmRSS:");
    let start = Instant::now();
    for _ in 0..trees {
        d.discard(who, tree(8));
    }
    let producer = start.elapsed();
    let drain_start = Instant::now();
    d.settle(who);
    let drain = drain_start.elapsed();
    let peak = status_kib("VmHWM:");
    let note = if who == Who::Pool {
        let s = d.pool.stats();
        format!(
            "deferred {}, dropped inline (queue full) {}",
            s.deferred, s.inline_full
        )
    } else {
        String::new()
    };
    println!(
        "OUTRUN {} {} {} {note}",
        producer.as_nanos(),
        peak.saturating_sub(base),
        drain.as_nanos()
    );
}
