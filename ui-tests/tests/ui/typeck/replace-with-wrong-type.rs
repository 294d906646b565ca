use bgdrop::BackgroundDrop;

struct Mesh {
    vertices: Vec<[f32; 3]>,
}

#[derive(BackgroundDrop)]
struct Scene {
    #[bgdrop(replace_with = Vec::new())]
    mesh: Mesh,
}

fn main() {}
