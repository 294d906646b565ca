// Every supported shape of type compiles.
use bgdrop::{BackgroundDrop, Bgdrop, DropCost};
use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::OnceLock;

fn my_pool() -> &'static Bgdrop {
    static POOL: OnceLock<Bgdrop> = OnceLock::new();
    POOL.get_or_init(Bgdrop::new)
}

const LIMIT: usize = 64 * 1024;

#[derive(BackgroundDrop)]
#[bgdrop(pool = my_pool)]
struct Named {
    name: String,
    #[bgdrop]
    meshes: Vec<Vec<f32>>,
    #[bgdrop(threshold = LIMIT)]
    lookup: HashMap<u32, String>,
    #[bgdrop(threshold = 64 * 1024, replace_with = Vec::new())]
    raw: Vec<u8>,
}

#[derive(BackgroundDrop)]
struct Tuple(u32, #[bgdrop] Vec<String>, #[bgdrop(threshold = 8)] Vec<u8>);

#[derive(BackgroundDrop)]
enum Message {
    Tick,
    Data(#[bgdrop] Vec<u8>),
    Batch {
        id: u64,
        #[bgdrop(threshold = 100)]
        items: Vec<String>,
    },
}

#[derive(BackgroundDrop)]
#[bgdrop(threshold = 16)]
enum OnlyThresholds {
    A(#[bgdrop] Vec<u8>),
    B(#[bgdrop] Vec<u8>, #[bgdrop] Vec<u8>),
}

#[derive(BackgroundDrop)]
struct Generic<K: Ord + Send + 'static, V>
where
    V: Debug + Send + 'static,
{
    #[bgdrop]
    map: std::collections::BTreeMap<K, V>,
    #[bgdrop(threshold = 10)]
    list: Vec<V>,
}

trait Payload: Send + 'static {}

#[derive(BackgroundDrop)]
struct ViaSupertrait<T: Payload> {
    #[bgdrop]
    items: Vec<T>,
}

#[derive(BackgroundDrop)]
struct Borrowing<'a, T: ?Sized + Sync> {
    name: &'a str,
    shared: &'a T,
    #[bgdrop]
    owned: Vec<String>,
}

#[derive(BackgroundDrop)]
struct Tree {
    #[bgdrop]
    children: Vec<Tree>,
    #[bgdrop]
    left: Option<Box<Tree>>,
}

#[derive(BackgroundDrop)]
struct Outer {
    #[bgdrop(threshold = 2)]
    inner: Option<Named>,
    #[bgdrop]
    tree: Option<Box<Tree>>,
}

struct Custom(Vec<u8>);

impl DropCost for Custom {
    fn drop_cost(&self) -> usize {
        self.0.len()
    }
}

#[derive(BackgroundDrop)]
struct WithCustom {
    #[bgdrop(threshold = 4, replace_with = Custom(Vec::new()))]
    custom: Custom,
}

#[derive(BackgroundDrop)]
struct ConstGeneric<const N: usize> {
    #[bgdrop]
    rows: Vec<[u8; N]>,
}

#[derive(BackgroundDrop)]
struct RawIdent {
    #[bgdrop]
    r#type: Vec<u8>,
}

fn main() {
    let _ = Named {
        name: String::new(),
        meshes: Vec::new(),
        lookup: HashMap::new(),
        raw: Vec::new(),
    };
    let _ = Tuple(1, Vec::new(), Vec::new());
    let _ = [Message::Tick, Message::Data(Vec::new()), Message::Batch { id: 1, items: Vec::new() }];
    let _ = OnlyThresholds::B(Vec::new(), Vec::new()).drop_cost() + OnlyThresholds::A(Vec::new()).drop_cost();
    let _ = Generic::<u8, String> { map: Default::default(), list: Vec::new() };
    let _ = Borrowing::<str> { name: "x", shared: "y", owned: Vec::new() };
    let _ = Outer {
        inner: Some(Named { name: String::new(), meshes: Vec::new(), lookup: HashMap::new(), raw: Vec::new() }),
        tree: Some(Box::new(Tree { children: Vec::new(), left: None })),
    };
    let _ = WithCustom { custom: Custom(vec![1]) };
    let _ = ConstGeneric::<4> { rows: Vec::new() };
    let _ = RawIdent { r#type: Vec::new() };
}
