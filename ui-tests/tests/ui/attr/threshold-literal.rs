use bgdrop::BackgroundDrop;

#[derive(BackgroundDrop)]
struct Scene {
    #[bgdrop(threshold = "64")]
    a: Vec<u8>,
    #[bgdrop(threshold = 1.5)]
    b: Vec<u8>,
    #[bgdrop(threshold = -1)]
    c: Vec<u8>,
    #[bgdrop(threshold = 64u32)]
    d: Vec<u8>,
    #[bgdrop(threshold = true)]
    e: Vec<u8>,
    #[bgdrop(threshold)]
    f: Vec<u8>,
}

fn main() {}
