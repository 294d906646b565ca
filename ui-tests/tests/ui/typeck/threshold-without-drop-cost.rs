use bgdrop::BackgroundDrop;

#[derive(Default)]
struct Mesh {
    vertices: Vec<[f32; 3]>,
}

#[derive(BackgroundDrop)]
struct Scene {
    #[bgdrop(threshold = 64)]
    mesh: Mesh,
}

#[derive(BackgroundDrop)]
#[bgdrop(threshold = 64)]
struct Level {
    #[bgdrop]
    mesh: Mesh,
}

fn main() {}
