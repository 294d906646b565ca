//! The expansion is clean under the strictest lints a user may set on their crate.
#![deny(warnings, missing_docs, unused_qualifications, unused, rust_2018_idioms)]
#![deny(clippy::all, clippy::pedantic)]
#![forbid(unsafe_code)]

use bgdrop::BackgroundDrop;

/// A documented type.
#[derive(BackgroundDrop)]
#[bgdrop(threshold = 4)]
pub struct Scene<'a, T: Send + 'static> {
    /// Dropped in place.
    pub name: &'a str,
    /// Deferred above the threshold.
    #[bgdrop]
    pub meshes: Vec<Vec<T>>,
}

/// A documented enum.
#[derive(BackgroundDrop)]
pub enum Event {
    /// Nothing to defer.
    Tick,
    /// Deferred.
    Data(#[bgdrop] Vec<u8>),
}

fn main() {
    let _ = Scene::<u8> {
        name: "x",
        meshes: Vec::new(),
    };
    let _ = Event::Data(Vec::new());
    let _ = Event::Tick;
}
