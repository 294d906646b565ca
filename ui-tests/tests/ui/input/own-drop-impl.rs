use bgdrop::BackgroundDrop;

#[derive(BackgroundDrop)]
struct Scene {
    #[bgdrop]
    meshes: Vec<Vec<f32>>,
}

impl Drop for Scene {
    fn drop(&mut self) {
        println!("dropping a scene");
    }
}

fn main() {}
