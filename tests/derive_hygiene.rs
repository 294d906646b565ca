//! The expansion resolves nothing through the user's scope: it works without the
//! prelude, beside items that shadow the names it uses, and through `crate = PATH`.

#![allow(non_camel_case_types, dead_code)]

use bgdrop_suite::{Log, Witness, static_pool};

static_pool!(fn hygiene_pool);

#[no_implicit_prelude]
mod without_prelude {
    use ::bgdrop_suite::Witness;

    #[derive(::bgdrop::BackgroundDrop)]
    #[bgdrop(pool = super::hygiene_pool)]
    pub(crate) struct Scene {
        pub(crate) here: Witness,
        #[bgdrop]
        pub(crate) big: Witness,
        #[bgdrop(threshold = 5)]
        pub(crate) sized: Witness,
    }
}

#[test]
fn works_without_the_prelude() {
    let log = Log::new();
    drop(without_prelude::Scene {
        here: log.witness("here"),
        big: log.witness("big"),
        sized: log.witness_costing("sized", 5),
    });
    hygiene_pool().flush();
    log.assert_inline("here");
    log.assert_on_worker("big");
    log.assert_on_worker("sized");
}

mod shadowing {
    use ::bgdrop::BackgroundDrop;
    use bgdrop_suite::Witness;

    // Names the expansion must not pick up from the user's scope.
    struct usize;
    struct bool;
    struct Option;
    struct Some;
    struct None;
    struct Drop;
    struct Default;
    struct Send;
    mod core {}
    mod bgdrop {}
    mod __bgdrop {}
    const __THRESHOLD: u8 = 0;
    fn __ship() {}
    fn take() {}

    #[derive(BackgroundDrop)]
    #[bgdrop(pool = super::hygiene_pool, crate = ::bgdrop)]
    pub(crate) enum Event {
        Tick(Witness),
        Data(#[bgdrop] Witness, #[bgdrop(threshold = 3)] Witness),
    }
}

#[test]
fn works_beside_shadowing_names() {
    let log = Log::new();
    drop(shadowing::Event::Tick(log.witness("tick")));
    drop(shadowing::Event::Data(
        log.witness("data"),
        log.witness_costing("cheap", 2),
    ));
    hygiene_pool().flush();
    log.assert_inline("tick");
    log.assert_on_worker("data");
    log.assert_inline("cheap");
}

mod reexport {
    pub(crate) use ::bgdrop as runtime;
}

#[derive(bgdrop::BackgroundDrop)]
#[bgdrop(crate = "crate::reexport::runtime", pool = hygiene_pool)]
struct Renamed {
    #[bgdrop]
    big: Witness,
}

#[test]
fn crate_path_reaches_a_re_export() {
    let log = Log::new();
    drop(Renamed {
        big: log.witness("renamed"),
    });
    hygiene_pool().flush();
    log.assert_on_worker("renamed");
}
