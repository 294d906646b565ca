use bgdrop::BackgroundDrop;

#[derive(BackgroundDrop)]
#[bgdrop]
#[bgdrop(replace_with = Vec::new())]
struct Scene {
    #[bgdrop]
    meshes: Vec<Vec<f32>>,
}

#[derive(BackgroundDrop)]
enum Event {
    #[bgdrop]
    Data(#[bgdrop] Vec<u8>),
}

fn main() {}
