use bgdrop::BackgroundDrop;
use std::fs::File;

struct Mesh {
    vertices: Vec<[f32; 3]>,
}

#[derive(BackgroundDrop)]
struct Scene {
    #[bgdrop]
    mesh: Mesh,
    #[bgdrop]
    log: File,
}

fn main() {}
