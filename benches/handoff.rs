//! Per-value hand-off cost, every contender in one criterion group (issue 4, items 3
//! and 7). Means with confidence intervals; criterion's `iter_batched` builds the
//! values outside the timed region.
//!
//! ```text
//! cargo bench --bench handoff                       # glibc malloc
//! cargo bench --bench handoff --features mimalloc   # mimalloc
//! ```
//!
//! - `tiny/*`: one 16-byte `Vec<u8>` (cost 1, under the default threshold) per
//!   iteration, millions per sample: through the threshold API (`drop_if_costly`,
//!   `defer_if_costly`), and forced (`drop`, `Deferred` and the peers). A forced
//!   stream of tiny values outruns any worker, so the bounded pool drops part of
//!   them inline once its queue is full: that is the steady state measured.
//! - `derive/*`: dropping a struct of two small fields (a `Vec<u8>` of 16 bytes and a
//!   `String`), with `#[derive(BackgroundDrop)]` and `#[bgdrop(threshold = 64)]` on
//!   both (`examples/support/two_fields.rs`), without the derive, and with a
//!   hand-written `Drop` doing what the expansion does (the `__private` calls), to
//!   tell the expansion's own cost from how rustc inlines it.
//! - `derive_vec1000/*`: the same two structs, plain and derived, dropped as the
//!   elements of a `Vec` of 1 000 (the time is per `Vec`: µs per `Vec` read as ns
//!   per value). The per-value `derive/*` functions copy each value out of
//!   criterion's input buffer and call its drop through criterion's closure, and
//!   whether rustc inlines that call differs from build to build; a `Vec`'s drop
//!   runs the same element loop in every build.
//!
//! Criterion's default run is shortened (`BENCH_SECS`, default 1 s of measurement
//! per function); criterion's command-line options override it.

#![allow(
    clippy::cast_precision_loss,
    reason = "durations in ns and counts are far below 2^52"
)]
#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented function"
)]

#[path = "common/mod.rs"]
mod common;

#[path = "../examples/support/two_fields.rs"]
mod two_fields;

use common::{Droppers, Who, env_or};
use criterion::{BatchSize, Criterion, criterion_group};
use std::time::Duration;
use two_fields::{Derived, Plain};

fn tiny(c: &mut Criterion) {
    let d = Droppers::new();
    let mut g = c.benchmark_group("tiny");
    let make = || vec![7u8; 16];
    g.bench_function("inline", |b| {
        b.iter_batched(make, drop, BatchSize::SmallInput);
    });
    g.bench_function("bgdrop pool drop_if_costly", |b| {
        b.iter_batched(make, |v| d.pool.drop_if_costly(v), BatchSize::SmallInput);
    });
    g.bench_function("bgdrop defer_if_costly", |b| {
        b.iter_batched(make, bgdrop::defer_if_costly, BatchSize::SmallInput);
    });
    for who in Who::ALL.into_iter().filter(|&w| w != Who::Inline) {
        g.bench_function(format!("{} forced", who.name()), |b| {
            b.iter_batched(make, |v| d.discard(who, v), BatchSize::SmallInput);
        });
        d.settle(who);
    }
    g.finish();
    let s = d.pool.stats();
    eprintln!("bgdrop pool after tiny: {s}");
}

/// The same fields with a `Drop` written as the derive's expansion is: the compares,
/// and, only when a field is over its threshold, the fields taken and moved by value
/// into the hand-off, out of line.
struct HandWritten {
    bytes: Vec<u8>,
    name: String,
}

impl Drop for HandWritten {
    fn drop(&mut self) {
        use bgdrop::__private as p;
        let bytes_over = p::cost(&self.bytes) >= 64;
        let name_over = p::cost(&self.name) >= 64;
        if bytes_over || name_over {
            let fields = (
                bytes_over.then(|| p::take(&mut self.bytes)),
                name_over.then(|| p::take(&mut self.name)),
            );
            p::out_of_line(move || {
                let pool = p::global();
                if p::may_defer(pool) {
                    p::ship(pool, fields);
                }
            });
        }
    }
}

fn derive(c: &mut Criterion) {
    // Start the global pool outside the timed region, and check that the derive
    // generates a `Drop` (a costly field must reach the pool).
    bgdrop::flush();
    let before = bgdrop::global().stats().deferred;
    drop(Derived {
        bytes: vec![1; 1 << 20],
        name: String::new(),
    });
    bgdrop::flush();
    if bgdrop::global().stats().deferred == before {
        eprintln!(
            "note: #[derive(BackgroundDrop)] generated no Drop in this build; `derived` measures the plain struct"
        );
    }
    let mut g = c.benchmark_group("derive");
    g.bench_function("plain struct", |b| {
        b.iter_batched(Plain::sample, drop, BatchSize::SmallInput);
    });
    g.bench_function("derived, fields under threshold", |b| {
        b.iter_batched(Derived::sample, drop, BatchSize::SmallInput);
    });
    g.bench_function("hand-written expansion", |b| {
        b.iter_batched(
            || HandWritten {
                bytes: vec![1; 16],
                name: "entity".to_owned(),
            },
            drop,
            BatchSize::SmallInput,
        );
    });
    g.finish();

    // The same two structs dropped as the elements of a `Vec`, which is how many
    // values of a type are usually freed: `drop_in_place` of the slice calls each
    // element's drop in a loop of its own, with no copy of the value and no
    // criterion closure around it. The time is per `Vec` of 1 000, so the figure in
    // µs is the cost per value in ns.
    let mut g = c.benchmark_group("derive_vec1000");
    g.bench_function("plain struct", |b| {
        b.iter_batched(
            || (0..1000).map(|_| Plain::sample()).collect::<Vec<_>>(),
            drop,
            BatchSize::SmallInput,
        );
    });
    g.bench_function("derived, fields under threshold", |b| {
        b.iter_batched(
            || (0..1000).map(|_| Derived::sample()).collect::<Vec<_>>(),
            drop,
            BatchSize::SmallInput,
        );
    });
    g.finish();
    let stats = bgdrop::global().stats();
    eprintln!("global pool after derive: {stats}");
}

fn config() -> Criterion {
    let secs = env_or("BENCH_SECS", 1) as u64;
    Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(secs))
        .sample_size(30)
}

criterion_group! {
    name = benches;
    config = config();
    targets = tiny, derive
}

fn main() {
    eprintln!("allocator: {}", common::allocator());
    benches();
    Criterion::default().configure_from_args().final_summary();
}
