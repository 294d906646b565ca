//! [`Slot<T>`]: the latest value of something, replaced without freeing on the
//! publisher or the readers.

use crate::pool::Bgdrop;
use crate::shared::Shared;
use crate::sync::time::{Duration, Instant};
use crate::sync::{AtomicU64, AtomicUsize, Condvar, Mutex, MutexGuard, Ordering, RwLock};
use std::fmt;
use std::ops::Deref;
use std::sync::PoisonError;

/// A cell holding the latest version of a value (a configuration, a routing table,
/// a scene snapshot) that one or more threads publish and others read.
///
/// - [`publish`](Slot::publish) swaps in a new value. The value it replaces is not
///   dropped by the publisher: if no reader holds it, it goes to the pool at once;
///   otherwise the last reader to let go of it hands it to the pool.
/// - [`load`](Slot::load) returns a [`Snapshot`]: a cheap, shared handle to the
///   current value (a read lock held for one reference-count increment), stamped with
///   its version. Holding it never blocks the publisher.
/// - [`wait_newer`](Slot::wait_newer) blocks until a version newer than one you have
///   seen is published (async: `Slot::wait_newer_async`, with the feature `async`).
///
/// Versions start at 0 for the value the slot is created with and grow by one with
/// each publication. Readers see the latest value only: a reader that is slow to look
/// skips the versions published in between (they are freed on the pool, not queued).
///
/// Compared with `RwLock<Arc<T>>` or a watch channel, the difference is where the old
/// value dies: there, on whichever thread drops the last reference, often the
/// publisher, sometimes while holding the lock; here, always on a bgdrop worker.
///
/// # Examples
///
/// ```
/// use bgdrop::Slot;
/// use std::collections::HashMap;
/// use std::sync::Arc;
///
/// let routes = Arc::new(Slot::new(HashMap::from([("/", 1)])));
///
/// let reader = {
///     let routes = Arc::clone(&routes);
///     std::thread::spawn(move || {
///         // Blocks until something newer than version 0 (the initial map) is out.
///         let next = routes.wait_newer(0);
///         (next.version(), next.get("/about").copied())
///     })
/// };
///
/// let now = routes.load(); // a snapshot: cheap, and never blocks the publisher
/// assert_eq!((now.version(), now["/"]), (0, 1));
///
/// // The old map is freed on a bgdrop worker, not on this thread.
/// let version = routes.publish(HashMap::from([("/", 1), ("/about", 2)]));
/// assert_eq!(version, 1);
/// assert_eq!(reader.join().unwrap(), (1, Some(2)));
/// ```
pub struct Slot<T: Send + Sync + 'static> {
    current: RwLock<Snapshot<T>>,
    /// The current version, readable without the lock.
    version: AtomicU64,
    /// Threads blocked in a wait, plus wakers registered by async waits: the
    /// publisher takes the lock below only when this is non-zero.
    watchers: AtomicUsize,
    waiting: Mutex<Waiters>,
    newer: Condvar,
    /// `None`: the global pool.
    pool: Option<Bgdrop>,
}

#[derive(Default)]
struct Waiters {
    #[cfg(feature = "async")]
    wakers: Vec<std::task::Waker>,
}

/// A shared handle to one version of a [`Slot`]'s value.
///
/// Dereferences to the value. Cloning it is cheap (one atomic increment). When the
/// last handle to a replaced version is dropped, that version is freed on the pool,
/// not on the thread that dropped the handle.
pub struct Snapshot<T: Send + 'static> {
    value: Shared<T>,
    version: u64,
}

impl<T: Send + 'static> Snapshot<T> {
    /// The version of the value this snapshot holds: 0 for the slot's initial value,
    /// then one more per [`publish`](Slot::publish).
    #[must_use]
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The value as a [`Shared<T>`], which frees it on the pool just the same.
    #[must_use]
    pub fn into_shared(self) -> Shared<T> {
        self.value
    }
}

impl<T: Send + 'static> Clone for Snapshot<T> {
    fn clone(&self) -> Self {
        Snapshot {
            value: self.value.clone(),
            version: self.version,
        }
    }
}

impl<T: Send + 'static> Deref for Snapshot<T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: Send + 'static> AsRef<T> for Snapshot<T> {
    fn as_ref(&self) -> &T {
        &self.value
    }
}

impl<T: Send + fmt::Debug + 'static> fmt::Debug for Snapshot<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("version", &self.version)
            .field("value", &*self.value)
            .finish()
    }
}

impl<T: Send + Sync + 'static> Slot<T> {
    /// A slot holding `value` as version 0; replaced values are freed on the
    /// [global](fn@crate::global) pool.
    #[must_use]
    pub fn new(value: T) -> Self {
        Slot::build(value, None)
    }

    /// A slot holding `value` as version 0; replaced values are freed on `pool`,
    /// which the slot and its snapshots keep alive.
    ///
    /// ```
    /// let pool = bgdrop::Bgdrop::new();
    /// let slot = bgdrop::Slot::with_pool(vec![0u64; 1 << 20], &pool);
    /// slot.publish(vec![1; 1 << 20]);
    /// pool.flush();
    /// assert_eq!(pool.stats().completed, 1); // version 0, freed by a worker
    /// ```
    #[must_use]
    pub fn with_pool(value: T, pool: &Bgdrop) -> Self {
        Slot::build(value, Some(pool.clone()))
    }

    fn build(value: T, pool: Option<Bgdrop>) -> Self {
        Slot {
            current: RwLock::new(Snapshot {
                value: Shared::from_parts(value, pool.clone()),
                version: 0,
            }),
            version: AtomicU64::new(0),
            watchers: AtomicUsize::new(0),
            waiting: Mutex::new(Waiters::default()),
            newer: Condvar::new(),
            pool,
        }
    }

    /// Makes `value` the current value and returns its version.
    ///
    /// The value it replaces is handed to the pool if no [`Snapshot`] of it is alive,
    /// and otherwise by whoever drops the last one. Threads waiting for a newer
    /// version are woken. Publishers on several threads are serialised; each gets a
    /// distinct version.
    pub fn publish(&self, value: T) -> u64 {
        // Allocate before taking the lock, release the old value after.
        let fresh = Shared::from_parts(value, self.pool.clone());
        let (old, version) = {
            let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
            let version = current.version + 1;
            let old = std::mem::replace(
                &mut *current,
                Snapshot {
                    value: fresh,
                    version,
                },
            );
            self.version.store(version, Ordering::SeqCst);
            (old, version)
        };
        drop(old);
        // Store the version, then read `watchers`; a waiter does the opposite. With a
        // full fence on both sides, at least one of the two sees the other's write.
        crate::sync::fence(Ordering::SeqCst);
        if self.watchers.load(Ordering::Relaxed) != 0 {
            self.wake_watchers();
        }
        version
    }

    #[cold]
    fn wake_watchers(&self) {
        let waiting = self.lock_waiting();
        self.newer.notify_all();
        #[cfg(feature = "async")]
        {
            let mut waiting = waiting;
            let wakers = std::mem::take(&mut waiting.wakers);
            self.watchers.fetch_sub(wakers.len(), Ordering::SeqCst);
            drop(waiting);
            for waker in wakers {
                waker.wake();
            }
        }
        #[cfg(not(feature = "async"))]
        drop(waiting);
    }

    fn lock_waiting(&self) -> MutexGuard<'_, Waiters> {
        crate::sync::lock(&self.waiting)
    }

    /// The current value and its version.
    #[must_use]
    pub fn load(&self) -> Snapshot<T> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The current version, without taking a snapshot.
    #[must_use]
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::SeqCst)
    }

    /// The current value if its version is newer than `seen`; `None` otherwise.
    #[must_use]
    pub fn load_newer(&self, seen: u64) -> Option<Snapshot<T>> {
        if self.version() > seen {
            Some(self.load())
        } else {
            None
        }
    }

    /// Blocks until a version newer than `seen` is current, and returns it.
    ///
    /// Returns at once if one already is. Pass the version of the last snapshot you
    /// looked at; versions published in between are skipped, not queued.
    ///
    /// ```
    /// let slot = bgdrop::Slot::new(String::from("v0"));
    /// slot.publish(String::from("v1"));
    /// slot.publish(String::from("v2"));
    /// let latest = slot.wait_newer(0); // at once: version 2 is newer than 0
    /// assert_eq!((latest.version(), latest.as_str()), (2, "v2"));
    /// ```
    #[must_use]
    pub fn wait_newer(&self, seen: u64) -> Snapshot<T> {
        self.wait_until(seen, None)
            .unwrap_or_else(|| unreachable!("no deadline"))
    }

    /// [`wait_newer`](Slot::wait_newer), under the name watch channels use.
    #[must_use]
    pub fn changed(&self, seen: u64) -> Snapshot<T> {
        self.wait_newer(seen)
    }

    /// [`wait_newer`](Slot::wait_newer) for at most `timeout`; `None` if nothing newer
    /// than `seen` was published by then.
    #[must_use]
    pub fn wait_newer_timeout(&self, seen: u64, timeout: Duration) -> Option<Snapshot<T>> {
        // A timeout too long to represent is no timeout.
        self.wait_until(seen, Instant::now().checked_add(timeout))
    }

    fn wait_until(&self, seen: u64, deadline: Option<Instant>) -> Option<Snapshot<T>> {
        if let Some(newer) = self.load_newer(seen) {
            return Some(newer);
        }
        let mut waiting = self.lock_waiting();
        // Announce, then check: a publisher stores the version before it reads
        // `watchers`, so either it sees us and notifies (it must take the lock we
        // hold until `wait` releases it), or we see its version.
        self.watchers.fetch_add(1, Ordering::SeqCst);
        crate::sync::fence(Ordering::SeqCst);
        let newer = loop {
            if self.version() > seen {
                break true;
            }
            match deadline {
                None => {
                    waiting = self
                        .newer
                        .wait(waiting)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                Some(deadline) => {
                    let left = deadline
                        .checked_duration_since(Instant::now())
                        .unwrap_or_default();
                    if left.is_zero() {
                        break false;
                    }
                    waiting = crate::sync::wait_timeout(&self.newer, &self.waiting, waiting, left);
                }
            }
        };
        self.watchers.fetch_sub(1, Ordering::SeqCst);
        drop(waiting);
        newer.then(|| self.load())
    }

    /// A future that resolves to the first version newer than `seen`, as
    /// [`wait_newer`](Slot::wait_newer) does without blocking the thread. Needs the
    /// `async` feature; works with any executor.
    #[cfg(feature = "async")]
    #[cfg_attr(docsrs, doc(cfg(feature = "async")))]
    pub fn wait_newer_async(&self, seen: u64) -> WaitNewer<'_, T> {
        WaitNewer { slot: self, seen }
    }
}

/// The future of [`Slot::wait_newer_async`].
#[cfg(feature = "async")]
#[cfg_attr(docsrs, doc(cfg(feature = "async")))]
#[must_use = "futures do nothing unless polled"]
pub struct WaitNewer<'a, T: Send + Sync + 'static> {
    slot: &'a Slot<T>,
    seen: u64,
}

#[cfg(feature = "async")]
impl<T: Send + Sync + 'static> std::future::Future for WaitNewer<'_, T> {
    type Output = Snapshot<T>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Snapshot<T>> {
        use std::task::Poll;
        let slot = self.slot;
        if let Some(newer) = slot.load_newer(self.seen) {
            return Poll::Ready(newer);
        }
        let mut waiting = slot.lock_waiting();
        // One entry per task: a future polled again keeps its registration.
        if !waiting.wakers.iter().any(|w| w.will_wake(cx.waker())) {
            waiting.wakers.push(cx.waker().clone());
            slot.watchers.fetch_add(1, Ordering::SeqCst);
        }
        drop(waiting);
        crate::sync::fence(Ordering::SeqCst);
        // Same handshake as the blocking wait; a registration left behind when we
        // return `Ready` here is cleared by the next publication.
        match slot.load_newer(self.seen) {
            Some(newer) => Poll::Ready(newer),
            None => Poll::Pending,
        }
    }
}

#[cfg(feature = "async")]
impl<T: Send + Sync + 'static> fmt::Debug for WaitNewer<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitNewer")
            .field("seen", &self.seen)
            .finish_non_exhaustive()
    }
}

impl<T: Send + Sync + Default + 'static> Default for Slot<T> {
    /// A slot holding `T::default()`, on the global pool.
    fn default() -> Self {
        Slot::new(T::default())
    }
}

impl<T: Send + Sync + 'static> From<T> for Slot<T> {
    fn from(value: T) -> Self {
        Slot::new(value)
    }
}

impl<T: Send + Sync + fmt::Debug + 'static> fmt::Debug for Slot<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Slot")
            .field("current", &self.load())
            .finish_non_exhaustive()
    }
}
