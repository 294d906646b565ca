use bgdrop::BackgroundDrop;

const SMALL: u32 = 64;

fn limit() -> usize {
    64
}

#[derive(BackgroundDrop)]
struct Scene {
    #[bgdrop(threshold = SMALL)]
    a: Vec<u8>,
    #[bgdrop(threshold = limit())]
    b: Vec<u8>,
}

fn main() {}
