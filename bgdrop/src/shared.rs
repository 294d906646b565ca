//! [`Shared<T>`]: a reference-counted value whose last owner frees it on a pool.

use crate::pool::Bgdrop;
use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

/// A value shared between threads like an [`Arc`], freed on a bgdrop pool whichever
/// thread lets go of it last.
///
/// With a plain `Arc<T>`, the thread that drops the last reference runs `T`'s
/// destructor; which thread that is depends on timing, so a big value shared with a
/// latency-critical thread sometimes gets freed there. A `Shared<T>` hands the value
/// to the pool instead: the last owner pays one hand-off, never the destructor, and
/// the value is dropped exactly once, on a worker.
///
/// Cloning is an `Arc` clone (one atomic increment); reading is a pointer dereference.
/// `Arc<Deferred<T>>` gives the same guarantee on the global pool; `Shared` adds
/// the choice of pool and a way to take the value back ([`Shared::try_unwrap`]).
///
/// # Examples
///
/// ```
/// use bgdrop::Shared;
/// use std::collections::HashMap;
///
/// let index: HashMap<u32, String> = (0..10_000).map(|i| (i, i.to_string())).collect();
/// let index = Shared::new(index); // on the global pool
///
/// let readers: Vec<_> = (0..4)
///     .map(|t| {
///         let index = index.clone();
///         std::thread::spawn(move || index.get(&t).cloned())
///     })
///     .collect();
/// drop(index); // maybe not the last reference: no matter
/// for r in readers {
///     assert!(r.join().unwrap().is_some());
/// }
/// // Whichever reader finished last, the map was freed on a bgdrop worker.
/// ```
pub struct Shared<T: Send + 'static> {
    inner: Arc<Inner<T>>,
}

struct Inner<T: Send + 'static> {
    /// `Some` until the last owner drops it or takes it back.
    value: Option<T>,
    /// `None` means the global pool.
    pool: Option<Bgdrop>,
}

impl<T: Send + 'static> Drop for Inner<T> {
    fn drop(&mut self) {
        if let Some(value) = self.value.take() {
            match &self.pool {
                Some(pool) => pool.drop(value),
                None => crate::defer(value),
            }
        }
    }
}

impl<T: Send + 'static> Shared<T> {
    /// Shares `value`; it will be freed on the [global](fn@crate::global) pool.
    #[must_use]
    pub fn new(value: T) -> Self {
        Shared::from_parts(value, None)
    }

    /// Shares `value`; it will be freed on `pool`, which the value keeps alive.
    ///
    /// ```
    /// let pool = bgdrop::Bgdrop::new();
    /// let shared = bgdrop::Shared::with_pool(vec![vec![0u8; 64]; 1000], &pool);
    /// let reader = shared.clone();
    /// drop(shared);
    /// drop(reader); // the last owner: the vectors go to `pool`
    /// pool.flush();
    /// assert_eq!(pool.stats().completed, 1);
    /// ```
    #[must_use]
    pub fn with_pool(value: T, pool: &Bgdrop) -> Self {
        Shared::from_parts(value, Some(pool.clone()))
    }

    pub(crate) fn from_parts(value: T, pool: Option<Bgdrop>) -> Self {
        Shared {
            inner: Arc::new(Inner {
                value: Some(value),
                pool,
            }),
        }
    }

    /// The value back, if `this` is the only owner; `this` unchanged otherwise.
    ///
    /// ```
    /// let a = bgdrop::Shared::new(String::from("x"));
    /// let b = a.clone();
    /// let a = bgdrop::Shared::try_unwrap(a).unwrap_err(); // `b` still shares it
    /// drop(b);
    /// assert_eq!(bgdrop::Shared::try_unwrap(a).unwrap(), "x");
    /// ```
    ///
    /// # Errors
    ///
    /// Returns `this` when other owners exist.
    pub fn try_unwrap(this: Self) -> Result<T, Self> {
        match Arc::try_unwrap(this.inner) {
            Ok(mut inner) => Ok(inner.value.take().unwrap_or_else(|| unreachable!())),
            Err(inner) => Err(Shared { inner }),
        }
    }

    /// The value back, if `this` is the last owner, as [`Arc::into_inner`]; `None`
    /// otherwise, and then this reference is simply released.
    ///
    /// Of several threads calling it on clones of one `Shared`, exactly one gets the
    /// value.
    #[must_use]
    pub fn into_inner(this: Self) -> Option<T> {
        Arc::into_inner(this.inner)
            .map(|mut inner| inner.value.take().unwrap_or_else(|| unreachable!()))
    }

    /// A mutable reference to the value, if `this` is the only owner.
    pub fn get_mut(this: &mut Self) -> Option<&mut T> {
        Arc::get_mut(&mut this.inner)
            .map(|inner| inner.value.as_mut().unwrap_or_else(|| unreachable!()))
    }

    /// How many `Shared` handles point at this value.
    #[must_use]
    pub fn strong_count(this: &Self) -> usize {
        Arc::strong_count(&this.inner)
    }

    /// Whether `a` and `b` share one value (not merely equal ones).
    #[must_use]
    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        Arc::ptr_eq(&a.inner, &b.inner)
    }

    #[inline]
    fn get(&self) -> &T {
        self.inner.value.as_ref().unwrap_or_else(|| unreachable!())
    }
}

impl<T: Send + 'static> Clone for Shared<T> {
    /// Another handle to the same value: one atomic increment.
    #[inline]
    fn clone(&self) -> Self {
        Shared {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<T: Send + 'static> Deref for Shared<T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        self.get()
    }
}

impl<T: Send + 'static> AsRef<T> for Shared<T> {
    fn as_ref(&self) -> &T {
        self.get()
    }
}

impl<T: Send + 'static> Borrow<T> for Shared<T> {
    fn borrow(&self) -> &T {
        self.get()
    }
}

impl<T: Send + 'static> From<T> for Shared<T> {
    fn from(value: T) -> Self {
        Shared::new(value)
    }
}

impl<T: Send + Default + 'static> Default for Shared<T> {
    fn default() -> Self {
        Shared::new(T::default())
    }
}

impl<T: Send + fmt::Debug + 'static> fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Shared").field(self.get()).finish()
    }
}

impl<T: Send + fmt::Display + 'static> fmt::Display for Shared<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.get().fmt(f)
    }
}

impl<T: Send + PartialEq + 'static> PartialEq for Shared<T> {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl<T: Send + Eq + 'static> Eq for Shared<T> {}

impl<T: Send + PartialOrd + 'static> PartialOrd for Shared<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        self.get().partial_cmp(other.get())
    }
}

impl<T: Send + Ord + 'static> Ord for Shared<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.get().cmp(other.get())
    }
}

impl<T: Send + Hash + 'static> Hash for Shared<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.get().hash(state);
    }
}

impl<T: Send + 'static> crate::DropCost for Shared<T> {
    /// One unit: dropping a handle costs at most a hand-off, whatever the value holds.
    fn drop_cost(&self) -> usize {
        1
    }
}
