use bgdrop::BackgroundDrop;

#[derive(BackgroundDrop)]
#[bgdrop(crate = "bgdrp")]
struct Scene {
    #[bgdrop]
    meshes: Vec<Vec<f32>>,
}

#[derive(BackgroundDrop)]
#[bgdrop(crate = std)]
struct Other {
    #[bgdrop]
    meshes: Vec<Vec<f32>>,
}

fn main() {}
