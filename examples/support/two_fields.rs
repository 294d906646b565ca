//! The struct of issue 4's item 7 (derive overhead), with and without
//! `#[derive(BackgroundDrop)]`: shared by `examples/instructions.rs`,
//! `examples/handoff_probe.rs` and `benches/handoff.rs`, so that all three measure
//! the same type. The suite's library (`tests/support/lib.rs`) includes it too, so
//! that `examples/instructions.rs` can also drop the types from another crate, as a
//! user whose types live in a library does.
#![allow(
    unreachable_pub,
    reason = "public for the suite's library; a private module where the examples include it"
)]

use bgdrop::BackgroundDrop;

/// Two small fields, both marked with a threshold they stay under.
#[allow(dead_code, reason = "the fields exist to be dropped")]
#[derive(BackgroundDrop)]
pub struct Derived {
    /// 16 bytes in [`Derived::sample`].
    #[bgdrop(threshold = 64)]
    pub bytes: Vec<u8>,
    /// A short name in [`Derived::sample`].
    #[bgdrop(threshold = 64)]
    pub name: String,
}

/// The same fields without the derive.
#[allow(dead_code, reason = "the fields exist to be dropped")]
pub struct Plain {
    /// 16 bytes in [`Plain::sample`].
    pub bytes: Vec<u8>,
    /// A short name in [`Plain::sample`].
    pub name: String,
}

impl Derived {
    /// A 16-byte `Vec` and a short `String`: both cost 1, under the threshold of 64.
    #[inline]
    #[must_use]
    pub fn sample() -> Self {
        Derived {
            bytes: vec![1; 16],
            name: "entity".to_owned(),
        }
    }

    /// Both fields empty: dropping the struct frees nothing.
    #[inline]
    #[allow(dead_code, reason = "not every user of this module drops empty values")]
    #[must_use]
    pub fn empty() -> Self {
        Derived {
            bytes: Vec::new(),
            name: String::new(),
        }
    }
}

impl Plain {
    /// The same values as [`Derived::sample`].
    #[inline]
    #[must_use]
    pub fn sample() -> Self {
        Plain {
            bytes: vec![1; 16],
            name: "entity".to_owned(),
        }
    }

    /// The same values as [`Derived::empty`].
    #[inline]
    #[allow(dead_code, reason = "not every user of this module drops empty values")]
    #[must_use]
    pub fn empty() -> Self {
        Plain {
            bytes: Vec::new(),
            name: String::new(),
        }
    }
}
