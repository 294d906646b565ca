use bgdrop::BackgroundDrop;

#[derive(BackgroundDrop)]
union Bits {
    word: u64,
    bytes: [u8; 8],
}

fn main() {}
