// `crate = PATH` reaches the runtime through a re-export, as a path or a string.
mod reexport {
    pub use ::bgdrop;
}

mod deeper {
    pub mod runtime {
        pub use ::bgdrop::*;
    }
}

#[derive(bgdrop::BackgroundDrop)]
#[bgdrop(crate = reexport::bgdrop)]
struct ByPath {
    #[bgdrop]
    meshes: Vec<Vec<f32>>,
}

#[derive(bgdrop::BackgroundDrop)]
#[bgdrop(crate = "crate::reexport::bgdrop")]
struct ByString {
    #[bgdrop]
    meshes: Vec<Vec<f32>>,
}

#[derive(bgdrop::BackgroundDrop)]
#[bgdrop(crate = ::bgdrop)]
struct Absolute {
    #[bgdrop]
    meshes: Vec<Vec<f32>>,
}

fn main() {
    let _ = ByPath { meshes: Vec::new() };
    let _ = ByString { meshes: Vec::new() };
    let _ = Absolute { meshes: Vec::new() };
    let _ = deeper::runtime::DEFAULT_THRESHOLD;
}
