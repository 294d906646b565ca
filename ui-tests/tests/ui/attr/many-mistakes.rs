// Attribute mistakes and type errors in one type are all reported in one build.
use bgdrop::BackgroundDrop;
use std::rc::Rc;

struct NoDefault(Vec<u8>);

#[derive(BackgroundDrop)]
#[bgdrop(treshold = 64)]
struct Scene {
    #[bgdrop(pool = my_pool)]
    meshes: Vec<Vec<f32>>,
    #[bgdrop]
    shared: Rc<Vec<u8>>,
    #[bgdrop]
    raw: NoDefault,
    #[bgdrop(threshold = "8")]
    names: Vec<String>,
}

fn main() {}
