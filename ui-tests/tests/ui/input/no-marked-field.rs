use bgdrop::BackgroundDrop;

#[derive(BackgroundDrop)]
struct Scene {
    meshes: Vec<Vec<f32>>,
}

#[derive(BackgroundDrop)]
enum Event {
    Tick,
    Data(Vec<u8>),
}

#[derive(BackgroundDrop)]
struct Marker;

fn main() {}
