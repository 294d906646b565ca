//! A derived type inside a deferred field of another: its own `Drop` runs on the
//! worker, where it drops every field in place, without queueing them again.

use bgdrop::{BackgroundDrop, Bgdrop, FullPolicy};
use bgdrop_suite::{Log, Witness, static_pool};
use std::sync::OnceLock;

static_pool!(fn nested_pool);

#[derive(BackgroundDrop)]
#[bgdrop(pool = nested_pool)]
struct Leaf {
    #[bgdrop]
    payload: Witness,
}

#[derive(BackgroundDrop)]
#[bgdrop(pool = nested_pool)]
struct Branch {
    #[bgdrop]
    leaves: Vec<Leaf>,
    _here: Witness,
}

#[test]
fn nested_values_drop_inline_on_the_worker() {
    let log = Log::new();
    let leaves = (0..10)
        .map(|i| Leaf {
            payload: log.witness(&format!("leaf {i}")),
        })
        .collect();
    drop(Branch {
        leaves,
        _here: log.witness("here"),
    });
    nested_pool().flush();
    log.assert_inline("here");
    for i in 0..10 {
        log.assert_on_worker(&format!("leaf {i}"));
    }
    let stats = nested_pool().stats();
    assert_eq!(stats.deferred, 1, "the leaves were not queued again");
    assert_eq!(stats.inline_reentrant, 0);
}

/// A one-slot pool that blocks when full: if the nested drops queued again from
/// the worker, the worker would wait for itself.
fn blocking_pool() -> &'static Bgdrop {
    static POOL: OnceLock<Bgdrop> = OnceLock::new();
    POOL.get_or_init(|| {
        Bgdrop::builder()
            .thread_name("bgdrop")
            .capacity(1)
            .when_full(FullPolicy::Block)
            .build()
            .expect("spawn a worker")
    })
}

#[derive(BackgroundDrop)]
#[bgdrop(pool = blocking_pool)]
struct Node {
    _name: Witness,
    #[bgdrop]
    children: Vec<Node>,
}

#[test]
fn deep_nesting_under_a_blocking_one_slot_pool_does_not_deadlock() {
    let log = Log::new();
    let mut node = Node {
        _name: log.witness("n0"),
        children: Vec::new(),
    };
    for depth in 1..50 {
        node = Node {
            _name: log.witness(&format!("n{depth}")),
            children: vec![node],
        };
    }
    drop(node);
    blocking_pool().flush();
    log.assert_inline("n49");
    for depth in 0..49 {
        log.assert_on_worker(&format!("n{depth}"));
    }
}

#[derive(BackgroundDrop)]
struct OnGlobal {
    #[bgdrop]
    payload: Witness,
}

#[test]
fn the_global_pool_is_the_default() {
    let log = Log::new();
    drop(OnGlobal {
        payload: log.witness("global"),
    });
    bgdrop::flush();
    let dropped = log.dropped_once("global");
    assert!(dropped.on_worker(), "{dropped:?}");
}
