//! `#[derive(BackgroundDrop)]` for the `bgdrop` crate.
use proc_macro::TokenStream;

/// Placeholder until the derive lands.
#[proc_macro_derive(BackgroundDrop, attributes(bgdrop))]
pub fn derive_background_drop(_input: TokenStream) -> TokenStream {
    TokenStream::new()
}
