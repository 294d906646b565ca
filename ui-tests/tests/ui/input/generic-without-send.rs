use bgdrop::BackgroundDrop;

#[derive(BackgroundDrop)]
struct Cache<T, U: Clone> {
    #[bgdrop]
    entries: Vec<T>,
    #[bgdrop]
    spare: Option<U>,
}

#[derive(BackgroundDrop)]
struct Buffers<T>
where
    T: Send,
{
    #[bgdrop]
    chunks: Vec<Vec<T>>,
}

fn main() {}
