use bgdrop::BackgroundDrop;

#[derive(BackgroundDrop)]
#[bgdrop(pool = 5, crate = "not a path")]
struct Scene {
    #[bgdrop]
    meshes: Vec<Vec<f32>>,
}

#[derive(BackgroundDrop)]
#[bgdrop(pool)]
struct Other {
    #[bgdrop = 3]
    meshes: Vec<Vec<f32>>,
}

fn main() {}
