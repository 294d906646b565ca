use bgdrop::BackgroundDrop;

fn my_pool() -> &'static bgdrop::Bgdrop {
    bgdrop::global()
}

#[derive(BackgroundDrop)]
struct Scene {
    #[bgdrop(pool = my_pool)]
    meshes: Vec<Vec<f32>>,
    #[bgdrop(crate = bgdrop)]
    names: Vec<String>,
}

fn main() {}
