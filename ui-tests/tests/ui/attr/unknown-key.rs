use bgdrop::BackgroundDrop;

#[derive(BackgroundDrop)]
#[bgdrop(pol = my_pool, colour = 3)]
struct Scene {
    #[bgdrop(treshold = 64)]
    meshes: Vec<Vec<f32>>,
    #[bgdrop(replace = Vec::new())]
    names: Vec<String>,
    #[bgdrop(later)]
    lookup: Vec<u8>,
}

fn main() {}
