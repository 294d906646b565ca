// The expansion names everything by absolute path: it compiles without the prelude.
#![no_implicit_prelude]

#[derive(::bgdrop::BackgroundDrop)]
#[bgdrop(threshold = 4)]
struct Scene {
    #[bgdrop]
    meshes: ::std::vec::Vec<::std::vec::Vec<f32>>,
    #[bgdrop(threshold = 1, replace_with = ::std::vec::Vec::new())]
    names: ::std::vec::Vec<::std::string::String>,
}

#[derive(::bgdrop::BackgroundDrop)]
enum Event {
    Tick,
    Data(#[bgdrop(threshold = 2)] ::std::vec::Vec<u8>),
}

fn pool() -> &'static ::bgdrop::Bgdrop {
    ::bgdrop::global()
}

#[derive(::bgdrop::BackgroundDrop)]
#[bgdrop(pool = pool)]
struct WithPool<T: ::std::marker::Send + 'static> {
    #[bgdrop]
    items: ::std::vec::Vec<T>,
}

fn main() {
    let _ = Scene {
        meshes: ::std::vec::Vec::new(),
        names: ::std::vec::Vec::new(),
    };
    let _ = Event::Data(::std::vec::Vec::new());
    let _ = Event::Tick;
    let _ = WithPool::<u8> { items: ::std::vec::Vec::new() };
}
