//! Helpers shared by the behaviour tests in `tests/`.

pub mod witness;

pub use witness::{Counter, DropLog, Token, Witness};
