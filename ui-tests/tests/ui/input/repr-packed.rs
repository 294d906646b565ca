use bgdrop::BackgroundDrop;

#[derive(BackgroundDrop)]
#[repr(C, packed(2))]
struct Wire {
    #[bgdrop]
    payload: Vec<u8>,
}

fn main() {}
