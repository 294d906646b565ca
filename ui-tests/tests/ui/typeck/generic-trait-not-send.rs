use bgdrop::BackgroundDrop;

trait Payload {}

// `Payload` might have had `Send + 'static` as supertraits; it has not, so rustc
// reports the missing bound and suggests adding it to the type.
#[derive(BackgroundDrop)]
struct Queue<T: Payload> {
    #[bgdrop]
    items: Vec<T>,
}

fn main() {}
