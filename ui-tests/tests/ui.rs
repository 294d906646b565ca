//! Compile-fail and compile-pass cases of `#[derive(BackgroundDrop)]`.
//!
//! The `.stderr` snapshots were blessed with `TRYBUILD=overwrite` on
//! rustc 1.95.0 (59807616e 2026-04-14), the one stable toolchain this project
//! builds with, and reviewed by hand: rustc's wording changes between releases, so
//! another compiler may need them blessed again (and reviewed again).
//!
//! - `attr/`: mistakes in `#[bgdrop(...)]`, reported by the derive on the key or
//!   literal;
//! - `input/`: types the derive rejects (union, packed, nothing marked, borrowed or
//!   unbounded generic fields) and a conflicting `impl Drop`;
//! - `typeck/`: what rustc checks on the user's field types and expressions, with
//!   the messages of bgdrop's marker traits;
//! - `pass/`: every supported shape, `#![no_implicit_prelude]`, strict lints and
//!   `crate = PATH`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/attr/*.rs");
    t.compile_fail("tests/ui/input/*.rs");
    t.compile_fail("tests/ui/typeck/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
