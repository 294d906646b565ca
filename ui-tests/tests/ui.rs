//! Compile-fail and compile-pass cases of `#[derive(BackgroundDrop)]`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/attr/*.rs");
    t.compile_fail("tests/ui/input/*.rs");
    t.compile_fail("tests/ui/typeck/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
