//! The break-even of the default threshold: for values of n elements, what dropping
//! inline costs the caller vs what `Bgdrop::drop` costs it. A `harness = false` bench.
//!
//! ```text
//! cargo bench --bench threshold                      # glibc malloc
//! cargo bench --bench threshold --features mimalloc  # mimalloc
//! ```
//!
//! For n = 1, 2, 4, …, 1024 and two shapes, `Vec<Box<u64>>` and `Vec<String>` (8
//! bytes each), both of drop cost n + 1: build a batch of `BATCH` values (default 256,
//! well under the queue's 1024 slots), then time the caller's loop that drops them
//! inline or hands them to the pool, per value. `THRESHOLD_REPS` batches (default 21,
//! interleaved), median reported. This measures the caller's own time only; it does
//! not see what the worker's frees cost the caller's later allocations through a
//! shared allocator (see `b2b` in `benches/tails.rs`).

#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    reason = "durations in ns and counts are far below 2^52"
)]

#[path = "common/mod.rs"]
mod common;

use common::{env_or, median};
use std::hint::black_box;
use std::time::Instant;

fn measure<T: Send + 'static>(pool: &bgdrop::Bgdrop, make: &dyn Fn() -> T, defer: bool) -> u64 {
    let batch = env_or("BATCH", 256);
    let mut values: Vec<T> = (0..batch).map(|_| make()).collect();
    pool.flush();
    let start = Instant::now();
    if defer {
        for v in values.drain(..) {
            pool.drop(v);
        }
    } else {
        for v in values.drain(..) {
            drop(v);
        }
    }
    let elapsed = start.elapsed();
    black_box(&values);
    (elapsed.as_nanos() / batch as u128) as u64
}

fn main() {
    common::print_header("threshold");
    let reps = env_or("THRESHOLD_REPS", 21);
    let pool = bgdrop::Bgdrop::new();
    println!(
        "\n## break-even: caller time per value, inline drop vs `Bgdrop::drop` (median of {reps} batches)"
    );
    println!(
        "| n | drop cost | Vec<Box<u64>> inline | pool | winner | Vec<String> inline | pool | winner |"
    );
    println!("|---:|---:|---:|---:|---|---:|---:|---|");
    let mut n = 1usize;
    while n <= 1024 {
        let boxes = move || (0..n as u64).map(Box::new).collect::<Vec<Box<u64>>>();
        let strings = move || (0..n).map(|i| format!("{i:08}")).collect::<Vec<String>>();
        let mut cells = Vec::new();
        for shape in 0..2 {
            let mut inline = Vec::new();
            let mut deferred = Vec::new();
            for rep in 0..reps {
                // Alternate which goes first, so drift hits both alike.
                for which in [rep % 2 == 0, rep % 2 == 1] {
                    let t = if shape == 0 {
                        measure(&pool, &boxes, which)
                    } else {
                        measure(&pool, &strings, which)
                    };
                    if which {
                        deferred.push(t);
                    } else {
                        inline.push(t);
                    }
                }
            }
            let (i, d) = (median(&inline), median(&deferred));
            let winner = if d < i { "pool" } else { "inline" };
            cells.push(format!("{i} ns | {d} ns | {winner}"));
        }
        println!("| {n} | {} | {} | {} |", n + 1, cells[0], cells[1]);
        n *= 2;
    }
    let s = pool.stats();
    println!("pool: {s}");
}
