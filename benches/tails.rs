//! Benchmark scaffold; the measurements land in the next commits.

fn main() {}
