//! The expansion is clean under the strictest lints a user may deny in their crate:
//! `cargo clippy --all-targets -- -D warnings` builds this file.
//!
//! (`#![no_implicit_prelude]` at crate level is in `ui-tests/tests/ui/pass/`.)

#![deny(
    warnings,
    missing_docs,
    unused_qualifications,
    unused,
    rust_2018_idioms,
    unsafe_code,
    clippy::all,
    clippy::pedantic
)]

use bgdrop::BackgroundDrop;
use bgdrop_suite::{Log, Witness, static_pool};

static_pool!(fn lint_pool);

/// A documented public type: the expansion adds nothing that lacks docs.
#[derive(BackgroundDrop)]
#[bgdrop(pool = lint_pool, threshold = 2)]
pub struct Scene<'a, T: Send + 'static> {
    /// Dropped in place.
    pub name: &'a str,
    /// Deferred at or above the container's threshold.
    #[bgdrop]
    pub meshes: Vec<T>,
    /// Always deferred, swapped out.
    #[bgdrop(threshold = 0, replace_with = Witness::default())]
    pub witness: Witness,
}

/// A documented public enum.
#[derive(BackgroundDrop)]
#[bgdrop(pool = lint_pool)]
pub enum Event {
    /// Nothing deferred.
    Tick,
    /// One deferred field.
    Data(#[bgdrop] Witness),
    /// A threshold field.
    Sized {
        /// Deferred at or above 1.
        #[bgdrop(threshold = 1)]
        payload: Witness,
    },
}

#[test]
fn strict_lints_hold() {
    let log = Log::new();
    drop(Scene {
        name: "lint",
        meshes: vec![1u8, 2, 3],
        witness: log.witness("scene"),
    });
    drop(Event::Tick);
    drop(Event::Data(log.witness("data")));
    drop(Event::Sized {
        payload: log.witness("sized"),
    });
    lint_pool().flush();
    log.assert_on_worker("scene");
    log.assert_on_worker("data");
    log.assert_on_worker("sized");
}
