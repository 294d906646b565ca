//! `#[derive(BackgroundDrop)]` for the [`bgdrop`](https://docs.rs/bgdrop) crate.
//!
//! Use it through `bgdrop::BackgroundDrop`, where its manual is; this crate is an
//! implementation detail, pinned by `bgdrop` to its exact version.

mod ast;
mod attr;
mod check;
mod ctxt;
mod expand;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// MANUAL
#[proc_macro_derive(BackgroundDrop, attributes(bgdrop))]
pub fn derive_background_drop(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive(&input).into()
}
