//! Drop-cost estimates: how much work dropping a value does.

use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet, LinkedList, VecDeque};
use std::rc::Rc;
use std::sync::Arc;

/// The default threshold of [`Bgdrop::drop_if_costly`](crate::Bgdrop::drop_if_costly)
/// and [`defer_if_costly`](crate::defer_if_costly), in [`DropCost`] units.
///
/// A value whose [`drop_cost`](DropCost::drop_cost) is below this is dropped on the
/// caller's thread; a value at or above it is handed to a worker.
///
/// The number follows the rule Redis uses for its lazy-free threads (collections of
/// more than 64 elements are freed in the background). A hand-off costs the caller
/// about as much as freeing one or two small allocations, so values well under 64
/// units are always cheaper to drop inline, and the margin covers the cost that the
/// worker's frees impose on the caller's own allocations through a shared allocator.
/// The README's performance section has the measurement behind it.
pub const DEFAULT_THRESHOLD: usize = 64;

/// Bytes of a flat buffer that count as one unit of [`DropCost`].
///
/// Freeing a buffer large enough to be served by `mmap` costs the kernel work in
/// proportion to its pages (a touched 64 MiB `Vec<u8>` takes milliseconds to free),
/// so a buffer counts one unit per 4 KiB page on top of the unit for its allocation.
pub const BYTES_PER_UNIT: usize = 4096;

/// An O(1) estimate of the work that dropping a value does.
///
/// The unit is **one heap allocation freed**: a `Box<u64>` costs 1, a `Vec<String>` of
/// 100 strings costs 101 (the buffer plus one allocation per element), a `HashMap` with
/// 1 000 `String` keys costs about 1 001. A large flat buffer additionally counts one
/// unit per [`BYTES_PER_UNIT`] bytes, because freeing it returns pages to the kernel:
/// a 64 MiB `Vec<u8>` costs 16 385.
///
/// Estimates never walk the value. Collections count one unit per element when the
/// element type has a destructor ([`std::mem::needs_drop`]) and assume that element
/// owns one allocation; they do not ask the elements for their own cost. Types that
/// know better (a tree that tracks its node count, say) implement the trait themselves.
///
/// [`Bgdrop::drop_if_costly`](crate::Bgdrop::drop_if_costly) and
/// [`defer_if_costly`](crate::defer_if_costly) compare the estimate with a threshold
/// ([`DEFAULT_THRESHOLD`] unless configured), and so does
/// `#[bgdrop(threshold = N)]` in the derive.
///
/// # Examples
///
/// ```
/// use bgdrop::DropCost;
///
/// assert_eq!(vec![0u8; 16].drop_cost(), 1);
/// assert_eq!(vec![String::new(); 100].drop_cost(), 101);
/// assert!(vec![0u8; 64 << 20].drop_cost() > 16_000);
/// assert_eq!(Option::<Vec<u8>>::None.drop_cost(), 0);
/// ```
///
/// Implementing it for a type of your own:
///
/// ```
/// use bgdrop::DropCost;
///
/// struct Graph {
///     nodes: Vec<Vec<u32>>,
///     edges: usize,
/// }
///
/// impl DropCost for Graph {
///     fn drop_cost(&self) -> usize {
///         // One allocation per adjacency list, plus the outer buffer.
///         self.nodes.drop_cost()
///     }
/// }
/// # let g = Graph { nodes: vec![vec![1, 2]; 10], edges: 20 };
/// # assert_eq!(g.drop_cost(), 11);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not implement `bgdrop::DropCost`, so its drop cost cannot be compared with a threshold",
    label = "no drop-cost estimate for `{Self}`",
    note = "implement it: `impl bgdrop::DropCost for {Self} {{ fn drop_cost(&self) -> usize {{ /* allocations freed */ }} }}`",
    note = "or defer the value unconditionally (`#[bgdrop]` without `threshold`, or `Bgdrop::drop`), which needs no estimate"
)]
pub trait DropCost {
    /// Estimated work of dropping `self`, in heap allocations freed (see the
    /// [trait docs](DropCost)). Must be O(1) and must not allocate.
    fn drop_cost(&self) -> usize;
}

/// Cost of a flat heap buffer of `bytes` bytes holding `len` elements of `T`.
#[inline]
fn buffer_cost<T>(allocated: bool, bytes: usize, len: usize) -> usize {
    if !allocated {
        return 0;
    }
    // `bytes / BYTES_PER_UNIT` is at most `usize::MAX / 4096`: adding 1 cannot overflow.
    let flat = 1 + bytes / BYTES_PER_UNIT;
    if std::mem::needs_drop::<T>() {
        flat.saturating_add(len)
    } else {
        flat
    }
}

/// Cost of `len` separately allocated nodes each holding a `T`.
#[inline]
fn node_cost<T>(nodes: usize, len: usize) -> usize {
    let elements = if std::mem::needs_drop::<T>() { len } else { 0 };
    nodes.saturating_add(elements)
}

/// B-tree nodes hold up to 11 entries; real trees average about 2/3 full.
const BTREE_ENTRIES_PER_NODE: usize = 7;

macro_rules! zero_cost {
    ($($t:ty),* $(,)?) => {
        $(
            impl DropCost for $t {
                #[inline]
                fn drop_cost(&self) -> usize {
                    0
                }
            }
        )*
    };
}

zero_cost!(
    (),
    bool,
    char,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    f32,
    f64,
    std::time::Duration,
    std::time::Instant,
);

impl<T: ?Sized> DropCost for &T {
    #[inline]
    fn drop_cost(&self) -> usize {
        0
    }
}

impl<T: ?Sized> DropCost for &mut T {
    #[inline]
    fn drop_cost(&self) -> usize {
        0
    }
}

impl<T> DropCost for std::marker::PhantomData<T> {
    #[inline]
    fn drop_cost(&self) -> usize {
        0
    }
}

impl<T> DropCost for [T] {
    /// The elements of a slice (no allocation of its own).
    #[inline]
    fn drop_cost(&self) -> usize {
        let bytes = std::mem::size_of_val(self);
        let elements = if std::mem::needs_drop::<T>() {
            self.len()
        } else {
            0
        };
        (bytes / BYTES_PER_UNIT).saturating_add(elements)
    }
}

impl DropCost for str {
    #[inline]
    fn drop_cost(&self) -> usize {
        self.len() / BYTES_PER_UNIT
    }
}

impl<T: DropCost + ?Sized> DropCost for Box<T> {
    /// One for the box's allocation (none for a zero-sized value) plus the value's own
    /// cost.
    #[inline]
    fn drop_cost(&self) -> usize {
        let own = usize::from(std::mem::size_of_val(&**self) != 0);
        own.saturating_add((**self).drop_cost())
    }
}

impl<T: DropCost> DropCost for Option<T> {
    #[inline]
    fn drop_cost(&self) -> usize {
        self.as_ref().map_or(0, DropCost::drop_cost)
    }
}

impl<T: DropCost, E: DropCost> DropCost for Result<T, E> {
    #[inline]
    fn drop_cost(&self) -> usize {
        match self {
            Ok(v) => v.drop_cost(),
            Err(e) => e.drop_cost(),
        }
    }
}

/// Collections that own one flat buffer of `capacity` elements.
macro_rules! buffer_collection_cost {
    ($($collection:ident),* $(,)?) => {
        $(
            impl<T> DropCost for $collection<T> {
                /// One unit for the buffer (none when nothing is allocated), one per
                /// 4 KiB of it, and one per element whose type has a destructor.
                #[inline]
                fn drop_cost(&self) -> usize {
                    buffer_cost::<T>(
                        self.capacity() != 0 && std::mem::size_of::<T>() != 0,
                        self.capacity().saturating_mul(std::mem::size_of::<T>()),
                        self.len(),
                    )
                }
            }
        )*
    };
}

buffer_collection_cost!(Vec, VecDeque, BinaryHeap);

impl DropCost for String {
    #[inline]
    fn drop_cost(&self) -> usize {
        buffer_cost::<u8>(self.capacity() != 0, self.capacity(), self.len())
    }
}

impl<K, V, S> DropCost for HashMap<K, V, S> {
    /// One table allocation plus one unit per entry whose key or value has a
    /// destructor.
    #[inline]
    fn drop_cost(&self) -> usize {
        let entry = std::mem::size_of::<(K, V)>();
        buffer_cost::<(K, V)>(
            self.capacity() != 0,
            self.capacity().saturating_mul(entry),
            self.len(),
        )
    }
}

impl<T, S> DropCost for HashSet<T, S> {
    #[inline]
    fn drop_cost(&self) -> usize {
        let entry = std::mem::size_of::<T>();
        buffer_cost::<T>(
            self.capacity() != 0,
            self.capacity().saturating_mul(entry),
            self.len(),
        )
    }
}

impl<K, V> DropCost for BTreeMap<K, V> {
    /// One unit per node (about one per seven entries) plus one per entry whose key or
    /// value has a destructor.
    #[inline]
    fn drop_cost(&self) -> usize {
        node_cost::<(K, V)>(self.len().div_ceil(BTREE_ENTRIES_PER_NODE), self.len())
    }
}

impl<T> DropCost for BTreeSet<T> {
    #[inline]
    fn drop_cost(&self) -> usize {
        node_cost::<T>(self.len().div_ceil(BTREE_ENTRIES_PER_NODE), self.len())
    }
}

impl<T> DropCost for LinkedList<T> {
    /// One allocation per node, plus one per element with a destructor.
    #[inline]
    fn drop_cost(&self) -> usize {
        node_cost::<T>(self.len(), self.len())
    }
}

impl<T: DropCost + ?Sized> DropCost for Arc<T> {
    /// The value's cost plus its allocation when this is the last strong reference;
    /// otherwise 0, because dropping a shared reference only decrements a counter.
    #[inline]
    fn drop_cost(&self) -> usize {
        if Arc::strong_count(self) == 1 {
            1usize.saturating_add((**self).drop_cost())
        } else {
            0
        }
    }
}

impl<T: DropCost + ?Sized> DropCost for Rc<T> {
    /// As for [`Arc`]: only the last strong reference frees anything.
    #[inline]
    fn drop_cost(&self) -> usize {
        if Rc::strong_count(self) == 1 {
            1usize.saturating_add((**self).drop_cost())
        } else {
            0
        }
    }
}

impl<T: DropCost, const N: usize> DropCost for [T; N] {
    /// The sum over the elements (`N` is a compile-time constant).
    #[inline]
    fn drop_cost(&self) -> usize {
        self.iter()
            .fold(0usize, |acc, v| acc.saturating_add(v.drop_cost()))
    }
}

macro_rules! tuple_cost {
    ($($name:ident)+) => {
        impl<$($name: DropCost),+> DropCost for ($($name,)+) {
            #[inline]
            #[allow(non_snake_case)]
            fn drop_cost(&self) -> usize {
                let ($($name,)+) = self;
                0usize $(.saturating_add($name.drop_cost()))+
            }
        }
    };
}

tuple_cost!(A);
tuple_cost!(A B);
tuple_cost!(A B C);
tuple_cost!(A B C D);
tuple_cost!(A B C D E);
tuple_cost!(A B C D E F);
tuple_cost!(A B C D E F G);
tuple_cost!(A B C D E F G H);
tuple_cost!(A B C D E F G H I);
tuple_cost!(A B C D E F G H I J);
tuple_cost!(A B C D E F G H I J K);
tuple_cost!(A B C D E F G H I J K L);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_buffers_count_pages() {
        assert_eq!(Vec::<u8>::new().drop_cost(), 0);
        assert_eq!(vec![0u8; 16].drop_cost(), 1);
        assert_eq!(vec![0u8; 64 << 20].drop_cost(), 1 + (64 << 20) / 4096);
        assert_eq!(String::from("hi").drop_cost(), 1);
    }

    #[test]
    fn elements_with_destructors_count_once_each() {
        let nested: Vec<Vec<u8>> = vec![vec![1]; 100];
        assert_eq!(nested.drop_cost(), 101);
        let strings: Box<[String]> = vec![String::new(); 10].into_boxed_slice();
        assert_eq!(strings.drop_cost(), 11);
        let map: HashMap<u32, String> = (0..50).map(|i| (i, i.to_string())).collect();
        assert!(map.drop_cost() >= 51);
        let list: LinkedList<u8> = (0..10).collect();
        assert_eq!(list.drop_cost(), 10);
        let tree: BTreeMap<u32, u32> = (0..70).map(|i| (i, i)).collect();
        assert_eq!(tree.drop_cost(), 10);
    }

    #[test]
    fn shared_values_cost_only_on_last_reference() {
        let a = Arc::new(vec![0u64; 10]);
        assert_eq!(a.drop_cost(), 2);
        let b = Arc::clone(&a);
        assert_eq!(a.drop_cost(), 0);
        drop(b);
        assert_eq!(a.drop_cost(), 2);
    }

    #[test]
    fn composites_sum() {
        let t = (
            vec![String::new(); 3],
            Some(Box::new(5u8)),
            [vec![1u8], vec![2u8]],
        );
        assert_eq!(t.drop_cost(), 4 + 1 + 2);
        assert_eq!(Box::new(()).drop_cost(), 0);
    }
}
