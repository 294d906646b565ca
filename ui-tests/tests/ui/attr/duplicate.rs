use bgdrop::BackgroundDrop;

#[derive(BackgroundDrop)]
#[bgdrop(threshold = 64)]
#[bgdrop(threshold = 128)]
struct Scene {
    #[bgdrop]
    #[bgdrop]
    meshes: Vec<Vec<f32>>,
    #[bgdrop(threshold = 1, threshold = 2)]
    names: Vec<String>,
}

fn main() {}
