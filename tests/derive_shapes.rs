//! `#[derive(BackgroundDrop)]` on every shape of type: which thread drops each field.

#![allow(dead_code, reason = "the witness fields exist only to be dropped")]

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

static_pool!(fn tuple_pool);

#[derive(BackgroundDrop)]
#[bgdrop(pool = tuple_pool)]
struct Tuple(Witness, #[bgdrop] Witness, #[bgdrop] Witness);

#[test]
fn tuple_struct() {
    let log = Log::new();
    drop(Tuple(log.witness("0"), log.witness("1"), log.witness("2")));
    tuple_pool().flush();
    assert_eq!(tuple_pool().stats().deferred, 1);
    log.assert_inline("0");
    log.assert_on_worker("1");
    log.assert_on_worker("2");
}

static_pool!(fn enum_pool);

#[derive(BackgroundDrop)]
#[bgdrop(pool = enum_pool)]
enum Message {
    Tick(Witness),
    Data(Witness, #[bgdrop] Witness),
    Batch {
        id: Witness,
        #[bgdrop]
        items: Witness,
        #[bgdrop]
        more: Witness,
    },
}

#[test]
fn enum_variant_in_force_decides() {
    let log = Log::new();
    drop(Message::Tick(log.witness("tick")));
    drop(Message::Data(log.witness("data.0"), log.witness("data.1")));
    drop(Message::Batch {
        id: log.witness("batch.id"),
        items: log.witness("batch.items"),
        more: log.witness("batch.more"),
    });
    enum_pool().flush();
    assert_eq!(
        enum_pool().stats().deferred,
        2,
        "one hand-off per value with marked fields"
    );
    log.assert_inline("tick");
    log.assert_inline("data.0");
    log.assert_on_worker("data.1");
    log.assert_inline("batch.id");
    log.assert_on_worker("batch.items");
    log.assert_on_worker("batch.more");
}

static_pool!(fn generic_pool);

#[derive(BackgroundDrop)]
#[bgdrop(pool = generic_pool)]
struct Generic<K: Ord + Send + 'static, V>
where
    V: Send + 'static,
{
    #[bgdrop]
    map: std::collections::BTreeMap<K, V>,
    kept: Option<V>,
}

#[test]
fn generic_type_with_bounds_and_where_clause() {
    let log = Log::new();
    let mut map = std::collections::BTreeMap::new();
    map.insert(1u32, log.witness("in map"));
    drop(Generic {
        map,
        kept: Some(log.witness("kept")),
    });
    generic_pool().flush();
    log.assert_on_worker("in map");
    log.assert_inline("kept");
}

static_pool!(fn lifetime_pool);

#[derive(BackgroundDrop)]
#[bgdrop(pool = lifetime_pool)]
struct Borrowing<'a> {
    name: &'a str,
    #[bgdrop]
    owned: Witness,
}

#[test]
fn lifetime_parameter_with_static_heavy_field() {
    let log = Log::new();
    let name = String::from("borrowed");
    let value = Borrowing {
        name: &name,
        owned: log.witness("owned"),
    };
    assert_eq!(value.name, "borrowed");
    drop(value);
    lifetime_pool().flush();
    log.assert_on_worker("owned");
}

static_pool!(fn tree_pool);

#[derive(BackgroundDrop)]
#[bgdrop(pool = tree_pool)]
struct Tree {
    label: Witness,
    #[bgdrop]
    left: Option<Box<Tree>>,
    #[bgdrop]
    right: Option<Box<Tree>>,
}

fn tree(log: &Log, name: &str, depth: u32) -> Option<Box<Tree>> {
    (depth > 0).then(|| {
        Box::new(Tree {
            label: log.witness(name),
            left: tree(log, &format!("{name}L"), depth - 1),
            right: tree(log, &format!("{name}R"), depth - 1),
        })
    })
}

#[test]
fn option_box_tree_children_go_to_the_worker_and_drop_inline_there() {
    let log = Log::new();
    let root = tree(&log, "t", 4).expect("a tree");
    drop(root);
    tree_pool().flush();
    // The root's label drops here; its subtrees were shipped in one hand-off and
    // every node below dropped on the worker, without being queued again.
    log.assert_inline("t");
    for name in ["tL", "tR", "tLL", "tRLR", "tLRL"] {
        log.assert_on_worker(name);
    }
    assert_eq!(tree_pool().stats().deferred, 1);
    assert_eq!(tree_pool().stats().inline_reentrant, 0);
}
