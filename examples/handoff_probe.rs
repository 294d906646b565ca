//! Probes of the hand-off's cost on the caller, outside criterion, for the numbers in
//! the README's performance section that separate the hand-off from the allocator.
//!
//! ```sh
//! cargo run --release --example handoff_probe -- stream vec      # 16-byte Vecs, worker running
//! cargo run --release --example handoff_probe -- stream nop      # values whose drop frees nothing
//! cargo run --release --example handoff_probe -- stream vec held # worker held: staging alone
//! cargo run --release --example handoff_probe -- trees           # 1 000 trees of height 10
//! cargo run --release --example handoff_probe -- single          # one 8 MiB Vec after a pause
//! cargo run --release --example handoff_probe -- sparse          # one tree every 2 ms
//! cargo run --release --example handoff_probe -- cheap           # threshold path and derive
//! ```
//!
//! `stream` hands over 1 000 000 values in a row (5 rounds, the last two printed) and
//! prints the pool's `Stats` (how many went inline because the capacity was used up).
//! With `held`, the pool grows without bound (`FullPolicy::Grow`) and its worker is
//! held inside a destructor, so nothing is freed while the caller stages: what is left
//! is the hand-off itself. `trees` and `single` print medians of 21 and 41 repetitions.
//!
//! `sparse` takes the sparse row of `benches/tails.rs` apart: one tree of height 10
//! every 2 ms, the caller either sleeping or spinning until the next tick, handed
//! (a) to nobody (moved into a local `Vec`: the floor), (b) to a pool, and (c) to a
//! pool whose worker is held in a destructor, so that no other thread touches the
//! caller's stage between two values. Comparing (b) and (c) tells how much of a sparse
//! hand-off is the worker's doing (its sweeps take the stage's lines away) and how much
//! is the caller's own state after its pause.
//!
//! `cheap` times what issue 4's items 3 and 7 describe, outside criterion: 1 000 000
//! 16-byte `Vec<u8>`s built beforehand and then dropped in a row, inline and through
//! `drop_if_costly` (they stay under the threshold), and 1 000 000 structs of two
//! such fields, without the derive and with `#[derive(BackgroundDrop)]` and a
//! threshold on both (they stay inline); then the same two structs with empty fields,
//! whose drop frees nothing, which leaves the derive's own cost without `free`'s
//! noise around it. 12 rounds, each pair's order alternating between rounds; medians
//! of the per-round differences are printed.

#![allow(
    clippy::cast_precision_loss,
    reason = "durations in ns and counts are far below 2^52"
)]

#[path = "support/median.rs"]
mod median;
#[path = "support/two_fields.rs"]
mod two_fields;

use bgdrop::{Bgdrop, FullPolicy};
use median::median;
use std::hint::black_box;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use two_fields::{Derived, Plain};

/// Holds its worker until its sender is dropped.
struct Hold(mpsc::Receiver<()>);

impl Drop for Hold {
    fn drop(&mut self) {
        let _ = self.0.recv();
    }
}

/// A value with a destructor that frees nothing.
struct Nop([u64; 2]);

impl Drop for Nop {
    fn drop(&mut self) {
        black_box(&self.0);
    }
}

/// A node of a binary tree.
#[allow(dead_code, reason = "the children exist to be dropped")]
struct Node(Option<Box<Node>>, Option<Box<Node>>);

fn tree(height: u32) -> Option<Box<Node>> {
    (height > 0).then(|| Box::new(Node(tree(height - 1), tree(height - 1))))
}

/// The hand-off alone, kept out of line so that profilers and callgrind's
/// `--toggle-collect='*hand_off*'` can find it.
#[inline(never)]
fn hand_off<T: Send + 'static>(pool: &Bgdrop, value: T) {
    pool.drop(value);
}

fn stream<T: Send + 'static>(pool: &Bgdrop, held: bool, make: impl Fn() -> T) {
    const N: usize = 1_000_000;
    for round in 0..5 {
        let values: Vec<T> = (0..N).map(|_| make()).collect();
        pool.flush();
        let (release, gate) = mpsc::channel();
        if held {
            pool.drop(Hold(gate));
            // The worker takes the holder and stays in its destructor.
            let _ = pool.flush_timeout(Duration::from_millis(5));
        }
        let start = Instant::now();
        for v in values {
            hand_off(pool, v);
        }
        let elapsed = start.elapsed();
        drop(release);
        if round >= 3 {
            println!(
                "round {round}: {:.1} ns per value",
                elapsed.as_nanos() as f64 / N as f64
            );
        }
    }
    pool.flush();
    println!("{}", pool.stats());
}

fn trees(pool: &Bgdrop) {
    let mut per_tree = Vec::new();
    for _ in 0..21 {
        let batch: Vec<_> = (0..1000).map(|_| tree(10)).collect();
        pool.flush();
        let start = Instant::now();
        for t in batch {
            hand_off(pool, t);
        }
        per_tree.push(start.elapsed().as_nanos() as f64 / 1000.0);
        pool.flush();
    }
    println!("trees: median {:.1} ns per tree", median(per_tree));
}

fn single(pool: &Bgdrop) {
    let mut times = Vec::new();
    for _ in 0..41 {
        let v = vec![1u8; 8 << 20];
        pool.flush();
        std::thread::sleep(Duration::from_millis(5));
        let start = Instant::now();
        hand_off(pool, v);
        times.push(start.elapsed().as_nanos() as f64);
    }
    println!("single: median {:.0} ns", median(times));
}

/// One tree every 2 ms, `n` times; the caller sleeps or spins between them. Prints
/// the caller's time per hand-off (ns, nearest-rank percentiles).
fn every_2_ms(label: &str, spin: bool, n: usize, mut hand_off: impl FnMut(Option<Box<Node>>)) {
    let mut samples = Vec::with_capacity(n);
    let mut next = Instant::now();
    for _ in 0..n {
        let value = tree(10);
        next += Duration::from_millis(2);
        if spin {
            while Instant::now() < next {
                std::hint::spin_loop();
            }
        } else if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let start = Instant::now();
        hand_off(value);
        samples.push(start.elapsed().as_nanos() as f64);
    }
    samples.sort_by(f64::total_cmp);
    let at = |percent: usize| samples[(samples.len() - 1) * percent / 100];
    println!(
        "{label:<34} p50 {:>6.0} ns  p90 {:>6.0} ns  p99 {:>6.0} ns",
        at(50),
        at(90),
        at(99)
    );
}

fn sparse() {
    const N: usize = 400;
    for spin in [false, true] {
        let pause = if spin { "spin" } else { "sleep" };
        let mut kept = Vec::with_capacity(N);
        every_2_ms(&format!("{pause}: floor (a local Vec)"), spin, N, |v| {
            kept.push(v);
        });
        drop(black_box(kept));
        let pool = Bgdrop::new();
        every_2_ms(&format!("{pause}: pool"), spin, N, |v| pool.drop(v));
        pool.flush();
        let held = Bgdrop::builder()
            .when_full(FullPolicy::Grow)
            .build()
            .expect("spawn a worker");
        let (release, gate) = mpsc::channel();
        held.drop(Hold(gate));
        let _ = held.flush_timeout(Duration::from_millis(5));
        every_2_ms(&format!("{pause}: pool, worker held"), spin, N, |v| {
            held.drop(v);
        });
        drop(release);
        held.flush();
    }
}

/// `n` values made by `make`.
fn many<T>(n: usize, make: impl Fn() -> T) -> Vec<T> {
    (0..n).map(|_| make()).collect()
}

/// Nanoseconds per value to drop `values` with `drop_one`, the values built first.
fn per_value<T>(values: Vec<T>, drop_one: impl Fn(T)) -> f64 {
    let n = values.len() as f64;
    let start = Instant::now();
    for v in values {
        drop_one(black_box(v));
    }
    start.elapsed().as_nanos() as f64 / n
}

fn cheap() {
    const N: usize = 1_000_000;
    let pool = bgdrop::global();
    let (mut threshold, mut derive, mut derive_nothing_freed) =
        (Vec::new(), Vec::new(), Vec::new());
    let (mut inline_ns, mut plain_ns, mut plain_empty_ns) = (Vec::new(), Vec::new(), Vec::new());
    let vecs = || many(N, || vec![7u8; 16]);
    for round in 0..12 {
        // Which of a pair runs first alternates: the second of two such loops meets
        // the heap the first left behind, which alone moved a result by 10 ns.
        let (inline, costly, plain, derived, plain_empty, derived_empty);
        if round % 2 == 0 {
            inline = per_value(vecs(), drop);
            costly = per_value(vecs(), |v| pool.drop_if_costly(v));
            plain = per_value(many(N, Plain::sample), drop);
            derived = per_value(many(N, Derived::sample), drop);
            plain_empty = per_value(many(N, Plain::empty), drop);
            derived_empty = per_value(many(N, Derived::empty), drop);
        } else {
            costly = per_value(vecs(), |v| pool.drop_if_costly(v));
            inline = per_value(vecs(), drop);
            derived = per_value(many(N, Derived::sample), drop);
            plain = per_value(many(N, Plain::sample), drop);
            derived_empty = per_value(many(N, Derived::empty), drop);
            plain_empty = per_value(many(N, Plain::empty), drop);
        }
        inline_ns.push(inline);
        plain_ns.push(plain);
        plain_empty_ns.push(plain_empty);
        threshold.push(costly - inline);
        derive.push(derived - plain);
        derive_nothing_freed.push(derived_empty - plain_empty);
    }
    println!(
        "16-byte Vec: inline {:.2} ns; drop_if_costly {:+.2} ns over it",
        median(inline_ns),
        median(threshold)
    );
    println!(
        "two-field struct: plain {:.2} ns; derived (fields under threshold) {:+.2} ns over it",
        median(plain_ns),
        median(derive)
    );
    println!(
        "two-field struct, empty fields (nothing to free): plain {:.2} ns; derived {:+.2} ns over it",
        median(plain_empty_ns),
        median(derive_nothing_freed)
    );
    println!("{}", pool.stats());
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let has = |word: &str| args.iter().any(|a| a == word);
    if has("sparse") {
        sparse();
        return;
    }
    if has("cheap") {
        cheap();
        return;
    }
    let held = has("held");
    let pool = if held {
        Bgdrop::builder()
            .when_full(FullPolicy::Grow)
            .build()
            .expect("spawn a worker")
    } else {
        Bgdrop::new()
    };
    if has("trees") {
        trees(&pool);
    } else if has("single") {
        single(&pool);
    } else if has("nop") {
        stream(&pool, held, || Nop([1, 2]));
    } else {
        stream(&pool, held, || vec![7u8; 16]);
    }
}
