//! `#[derive(BackgroundDrop)]` on every shape of type: which thread drops each field.

use bgdrop::BackgroundDrop;
use bgdrop_suite::{Log, Witness, static_pool};

static_pool!(fn named_pool);

#[derive(BackgroundDrop)]
#[bgdrop(pool = named_pool)]
struct Named {
    _here: Witness,
    #[bgdrop]
    big: Witness,
    #[bgdrop]
    bigger: Witness,
}

#[test]
fn named_struct_defers_marked_fields_in_one_hand_off() {
    let log = Log::new();
    let value = Named {
        _here: log.witness("here"),
        big: log.witness("big"),
        bigger: log.witness("bigger"),
    };
    let before = named_pool().stats().deferred;
    drop(value);
    named_pool().flush();
    assert_eq!(
        named_pool().stats().deferred - before,
        1,
        "one hand-off per value"
    );
    log.assert_inline("here");
    log.assert_on_worker("big");
    log.assert_on_worker("bigger");
}
