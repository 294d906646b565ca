use bgdrop::BackgroundDrop;

fn my_pool() -> bgdrop::Bgdrop {
    bgdrop::Bgdrop::new()
}

#[derive(BackgroundDrop)]
#[bgdrop(pool = my_pool)]
struct Scene {
    #[bgdrop]
    meshes: Vec<Vec<f32>>,
}

#[derive(BackgroundDrop)]
#[bgdrop(pool = no_such_pool)]
struct Other {
    #[bgdrop]
    meshes: Vec<Vec<f32>>,
}

fn main() {}
