//! Compile-fail and compile-pass cases of `#[derive(BackgroundDrop)]`.
