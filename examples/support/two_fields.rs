//! The struct of issue 4's item 7 (derive overhead), with and without
//! `#[derive(BackgroundDrop)]`: shared by `examples/instructions.rs`,
//! `examples/handoff_probe.rs` and `benches/handoff.rs`, so that all three measure
//! the same type.

use bgdrop::BackgroundDrop;

/// Two small fields, both marked with a threshold they stay under.
#[allow(dead_code, reason = "the fields exist to be dropped")]
#[derive(BackgroundDrop)]
pub(crate) struct Derived {
    #[bgdrop(threshold = 64)]
    pub(crate) bytes: Vec<u8>,
    #[bgdrop(threshold = 64)]
    pub(crate) name: String,
}

/// The same fields without the derive.
#[allow(dead_code, reason = "the fields exist to be dropped")]
pub(crate) struct Plain {
    pub(crate) bytes: Vec<u8>,
    pub(crate) name: String,
}

impl Derived {
    /// A 16-byte `Vec` and a short `String`: both cost 1, under the threshold of 64.
    #[inline]
    pub(crate) fn sample() -> Self {
        Derived {
            bytes: vec![1; 16],
            name: "entity".to_owned(),
        }
    }

    /// Both fields empty: dropping the struct frees nothing.
    #[inline]
    #[allow(dead_code, reason = "not every user of this module drops empty values")]
    pub(crate) fn empty() -> Self {
        Derived {
            bytes: Vec::new(),
            name: String::new(),
        }
    }
}

impl Plain {
    /// The same values as [`Derived::sample`].
    #[inline]
    pub(crate) fn sample() -> Self {
        Plain {
            bytes: vec![1; 16],
            name: "entity".to_owned(),
        }
    }

    /// The same values as [`Derived::empty`].
    #[inline]
    #[allow(dead_code, reason = "not every user of this module drops empty values")]
    pub(crate) fn empty() -> Self {
        Plain {
            bytes: Vec::new(),
            name: String::new(),
        }
    }
}
