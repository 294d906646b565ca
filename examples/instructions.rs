//! A driver for counting instructions with callgrind, where timings are too noisy to
//! resolve a few nanoseconds (issue 4, items 3 and 7).
//!
//! ```sh
//! cargo build --release --example instructions
//! for mode in plain derived plain_lib derived_lib inline if_costly; do
//!   for n in 100000 300000; do
//!     valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!       target/release/examples/instructions $mode $n 2>&1 | grep Collected
//!   done
//! done
//! ```
//!
//! The per-value cost of a mode is the difference of its two totals divided by
//! 200 000 (start-up cancels out; keep the fraction, as a division down to whole
//! instructions can move a difference between two modes by one). `plain` and `derived` drop a struct of a 16-byte
//! `Vec<u8>` and a `String`, without and with `#[derive(BackgroundDrop)]` (both fields
//! `#[bgdrop(threshold = 64)]`, so both stay inline); `plain_lib` and `derived_lib`
//! drop the same structs compiled into another crate (the suite's library), as for a
//! user whose types live in a library; `inline` and `if_costly` drop a
//! 16-byte `Vec<u8>` directly and through `Bgdrop::drop_if_costly`. Each value is
//! allocated in the loop, so every mode includes one allocation and free per buffer.

#[path = "support/two_fields.rs"]
mod two_fields;

use std::hint::black_box;
use two_fields::{Derived, Plain};

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "derived".into());
    let n: usize = args.next().map_or(100_000, |n| n.parse().expect("a count"));
    let pool = bgdrop::global(); // started outside the loop
    match mode.as_str() {
        "plain" => (0..n).for_each(|_| {
            black_box(Plain::sample());
        }),
        "derived" => (0..n).for_each(|_| {
            black_box(Derived::sample());
        }),
        "plain_lib" => (0..n).for_each(|_| {
            black_box(bgdrop_suite::two_fields::Plain::sample());
        }),
        "derived_lib" => (0..n).for_each(|_| {
            black_box(bgdrop_suite::two_fields::Derived::sample());
        }),
        "inline" => (0..n).for_each(|_| drop(black_box(vec![7u8; 16]))),
        "if_costly" => (0..n).for_each(|_| pool.drop_if_costly(black_box(vec![7u8; 16]))),
        "forced" => (0..n).for_each(|_| pool.drop(black_box(vec![7u8; 16]))),
        other => panic!(
            "unknown mode {other}: plain, derived, plain_lib, derived_lib, inline, if_costly or forced"
        ),
    }
}
