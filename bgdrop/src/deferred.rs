//! [`Deferred<T>`]: a value that is dropped on the global pool.

use std::borrow::{Borrow, BorrowMut};
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::{Deref, DerefMut};

/// A wrapper whose drop hands the inner value to the [global](fn@crate::global) pool.
///
/// Use it for a value that lives in a struct or a collection and is big to free:
/// whoever drops the wrapper (or the struct holding it) pays a hand-off instead of
/// the destructor. It dereferences to the value, and implements the usual std traits
/// when `T` does.
///
/// Sharing it as `Arc<Deferred<T>>` makes the value freed on the pool whichever thread
/// drops the last reference.
///
/// # Examples
///
/// ```
/// use bgdrop::Deferred;
/// use std::collections::HashMap;
///
/// struct Cache {
///     entries: Deferred<HashMap<u64, Vec<u8>>>,
/// }
///
/// let mut cache = Cache { entries: Deferred::new(HashMap::new()) };
/// cache.entries.insert(1, vec![0; 1024]); // DerefMut
/// assert_eq!(cache.entries.len(), 1);
/// drop(cache); // the map is freed on a bgdrop worker
///
/// let kept: Vec<u8> = Deferred::new(vec![1, 2, 3]).into_inner(); // opt out
/// assert_eq!(kept, [1, 2, 3]);
/// ```
pub struct Deferred<T: Send + 'static> {
    /// Always `Some` until `Drop` or `into_inner` takes it.
    value: Option<T>,
}

impl<T: Send + 'static> Deferred<T> {
    /// Wraps `value`.
    #[inline]
    #[must_use]
    pub const fn new(value: T) -> Self {
        Deferred { value: Some(value) }
    }

    /// Unwraps the value; it is then dropped wherever its new owner drops it.
    ///
    /// Callable both as `deferred.into_inner()` and as `Deferred::into_inner(deferred)`.
    #[inline]
    pub fn into_inner(mut self) -> T {
        self.value.take().unwrap_or_else(|| unreachable!())
    }

    #[inline]
    fn get(&self) -> &T {
        self.value.as_ref().unwrap_or_else(|| unreachable!())
    }

    #[inline]
    fn get_mut(&mut self) -> &mut T {
        self.value.as_mut().unwrap_or_else(|| unreachable!())
    }
}

impl<T: Send + 'static> Drop for Deferred<T> {
    #[inline]
    fn drop(&mut self) {
        if let Some(value) = self.value.take() {
            crate::defer(value);
        }
    }
}

impl<T: Send + 'static> Deref for Deferred<T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        self.get()
    }
}

impl<T: Send + 'static> DerefMut for Deferred<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        self.get_mut()
    }
}

impl<T: Send + 'static> From<T> for Deferred<T> {
    #[inline]
    fn from(value: T) -> Self {
        Deferred::new(value)
    }
}

impl<T: Send + 'static> AsRef<T> for Deferred<T> {
    fn as_ref(&self) -> &T {
        self.get()
    }
}

impl<T: Send + 'static> AsMut<T> for Deferred<T> {
    fn as_mut(&mut self) -> &mut T {
        self.get_mut()
    }
}

impl<T: Send + 'static> Borrow<T> for Deferred<T> {
    fn borrow(&self) -> &T {
        self.get()
    }
}

impl<T: Send + 'static> BorrowMut<T> for Deferred<T> {
    fn borrow_mut(&mut self) -> &mut T {
        self.get_mut()
    }
}

impl<T: Send + Default + 'static> Default for Deferred<T> {
    fn default() -> Self {
        Deferred::new(T::default())
    }
}

impl<T: Send + Clone + 'static> Clone for Deferred<T> {
    fn clone(&self) -> Self {
        Deferred::new(self.get().clone())
    }
}

impl<T: Send + fmt::Debug + 'static> fmt::Debug for Deferred<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Deferred").field(self.get()).finish()
    }
}

impl<T: Send + fmt::Display + 'static> fmt::Display for Deferred<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.get().fmt(f)
    }
}

impl<T: Send + PartialEq + 'static> PartialEq for Deferred<T> {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl<T: Send + Eq + 'static> Eq for Deferred<T> {}

impl<T: Send + PartialOrd + 'static> PartialOrd for Deferred<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        self.get().partial_cmp(other.get())
    }
}

impl<T: Send + Ord + 'static> Ord for Deferred<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.get().cmp(other.get())
    }
}

impl<T: Send + Hash + 'static> Hash for Deferred<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.get().hash(state);
    }
}

impl<T: Send + 'static> crate::DropCost for Deferred<T> {
    /// One hand-off: dropping a `Deferred` costs its dropper about one allocation's
    /// worth of work, whatever the value holds.
    fn drop_cost(&self) -> usize {
        1
    }
}
