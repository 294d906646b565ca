//! `#[bgdrop(threshold = N)]`: deferred at or above the threshold, inline below it,
//! and the `DropCost` the derive implements.

use bgdrop::{BackgroundDrop, DropCost};
use bgdrop_suite::{Log, Witness, static_pool};

const LIMIT: usize = 8 * 2;

static_pool!(fn field_pool);

#[derive(BackgroundDrop)]
#[bgdrop(pool = field_pool)]
struct Fields {
    #[bgdrop(threshold = LIMIT)]
    a: Witness,
    #[bgdrop(threshold = 4 * 4)]
    b: Witness,
}

#[test]
fn field_threshold_compares_drop_cost() {
    let log = Log::new();
    drop(Fields {
        a: log.witness_costing("cheap", 15),
        b: log.witness_costing("costly", 16),
    });
    field_pool().flush();
    log.assert_inline("cheap");
    log.assert_on_worker("costly");
    assert_eq!(field_pool().stats().deferred, 1);

    // All under their thresholds: no hand-off at all.
    drop(Fields {
        a: log.witness_costing("small a", 1),
        b: log.witness_costing("small b", 1),
    });
    log.assert_inline("small a");
    log.assert_inline("small b");
    assert_eq!(field_pool().stats().deferred, 1);
}

static_pool!(fn nested_pool);

#[derive(BackgroundDrop)]
#[bgdrop(pool = nested_pool)]
struct OnlyThresholds {
    #[bgdrop(threshold = 16)]
    a: Witness,
    #[bgdrop(threshold = 16)]
    b: Witness,
}

#[test]
fn on_a_worker_fields_over_their_threshold_drop_there_without_a_second_hand_off() {
    let log = Log::new();
    nested_pool().drop(OnlyThresholds {
        a: log.witness_costing("cheap", 1),
        b: log.witness_costing("costly", 100),
    });
    nested_pool().flush();
    log.assert_on_worker("cheap");
    log.assert_on_worker("costly");
    assert_eq!(log.dropped_once("costly"), log.dropped_once("cheap"));
    // The value itself was the one hand-off; its costly field was not queued again.
    assert_eq!(nested_pool().stats().deferred, 1);
}

static_pool!(fn container_pool);

#[derive(BackgroundDrop)]
#[bgdrop(pool = container_pool, threshold = 10)]
struct Container {
    #[bgdrop]
    uses_default: Witness,
    #[bgdrop(threshold = 0)]
    always: Witness,
    _inline: Witness,
}

#[test]
fn container_threshold_is_the_default_of_its_fields() {
    let log = Log::new();
    drop(Container {
        uses_default: log.witness_costing("9", 9),
        always: log.witness_costing("0", 0),
        _inline: log.witness_costing("big but unmarked", 1000),
    });
    container_pool().flush();
    log.assert_inline("9");
    log.assert_on_worker("0");
    log.assert_inline("big but unmarked");
}

/// A user type with its own estimate and no `Default`.
struct Graph {
    nodes: Vec<Vec<u32>>,
    _witness: Witness,
}

impl DropCost for Graph {
    fn drop_cost(&self) -> usize {
        self.nodes.drop_cost()
    }
}

static_pool!(fn custom_pool);

#[derive(BackgroundDrop)]
#[bgdrop(pool = custom_pool)]
struct WithGraph {
    #[bgdrop(threshold = 100, replace_with = Graph { nodes: Vec::new(), _witness: Witness::default() })]
    graph: Graph,
}

#[test]
fn user_drop_cost_and_replace_with() {
    let log = Log::new();
    drop(WithGraph {
        graph: Graph {
            nodes: vec![vec![1]; 10],
            _witness: log.witness("small graph"),
        },
    });
    drop(WithGraph {
        graph: Graph {
            nodes: vec![vec![1]; 200],
            _witness: log.witness("big graph"),
        },
    });
    custom_pool().flush();
    log.assert_inline("small graph");
    log.assert_on_worker("big graph");
}

static_pool!(fn compose_pool);

#[derive(BackgroundDrop)]
#[bgdrop(pool = compose_pool)]
struct Inner {
    #[bgdrop]
    always: Witness,
    #[bgdrop(threshold = 1000)]
    sized: Witness,
}

#[derive(BackgroundDrop)]
#[bgdrop(pool = compose_pool)]
struct Outer {
    #[bgdrop(threshold = 50)]
    inner: Option<Inner>,
}

#[test]
fn derived_drop_cost_is_one_for_the_hand_off_plus_threshold_fields() {
    let log = Log::new();
    let inner = Inner {
        always: log.witness_costing("always", 1_000_000),
        sized: log.witness_costing("sized", 40),
    };
    assert_eq!(inner.drop_cost(), 1 + 40);
    let cheap = Outer { inner: Some(inner) };
    assert_eq!(cheap.drop_cost(), 41);
    drop(cheap);
    compose_pool().flush();
    // `Outer` kept `inner` (41 < 50); `Inner`'s own drop shipped `always` and kept
    // `sized` (40 < 1000).
    log.assert_on_worker("always");
    log.assert_inline("sized");

    let costly = Outer {
        inner: Some(Inner {
            always: log.witness("always 2"),
            sized: log.witness_costing("sized 2", 60),
        }),
    };
    drop(costly);
    compose_pool().flush();
    // 61 >= 50: `Outer` shipped `inner`, whose own drop then ran on the worker and
    // dropped everything there, in place.
    log.assert_on_worker("always 2");
    log.assert_on_worker("sized 2");
    assert_eq!(compose_pool().stats().inline_reentrant, 0);
}

#[derive(BackgroundDrop)]
enum Event {
    Tick,
    Data(#[bgdrop] Vec<u8>),
    Sized(#[bgdrop(threshold = 1)] Vec<String>),
}

#[test]
fn enum_drop_cost_follows_the_variant() {
    assert_eq!(Event::Tick.drop_cost(), 0);
    assert_eq!(Event::Data(vec![1]).drop_cost(), 1);
    assert_eq!(Event::Sized(vec![String::new(); 3]).drop_cost(), 4);
}
