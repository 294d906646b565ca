use bgdrop::BackgroundDrop;

#[derive(BackgroundDrop)]
struct Parsed<'a> {
    #[bgdrop]
    words: Vec<&'a str>,
}

fn main() {}
