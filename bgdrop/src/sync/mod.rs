//! Everything the crate's own synchronisation protocols are built on, in one place, so
//! that the loom models (`RUSTFLAGS="--cfg loom"`, see `crate::loom_models`) can run
//! the real pool code on loom's checked versions.
//!
//! The rest of the crate names only `crate::sync::…`. In a normal build every item
//! here is a plain re-export of std or crossbeam-channel (or an `#[inline]` function
//! that calls one), so the shim costs nothing; under `cfg(loom)`:
//!
//! - atomics, `Mutex`, `Condvar` and `Arc` are loom's;
//! - [`channel`] is a small MPMC channel on loom's `Mutex<VecDeque>` and `Condvar`
//!   with the subset of crossbeam-channel's API the crate uses;
//! - [`thread`] spawns loom threads, and models parking, yielding and spinning;
//! - [`time`] is a deterministic clock (loom has no notion of time);
//! - [`thread_local!`] declares loom thread-locals (loom runs its threads as
//!   coroutines on one OS thread, so a std thread-local would be shared by all of
//!   them), and [`process_static!`] a static that is fresh in every loom execution.

pub(crate) mod channel;
pub(crate) mod thread;
pub(crate) mod time;

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence};
#[cfg(loom)]
pub(crate) use loom::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence};
#[cfg(not(loom))]
pub(crate) use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
#[cfg(not(loom))]
pub(crate) use std::thread_local;

use std::sync::PoisonError;
use time::Duration;

/// `std::thread_local!` under loom: loom's own macro, which does not take std's
/// `const { … }` initialisers (it is an edition 2018 macro), so they are unwrapped.
#[cfg(loom)]
macro_rules! loom_thread_local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = const { $init:expr }; $($rest:tt)*) => {
        ::loom::thread_local!($(#[$attr])* $vis static $name: $t = $init);
        $crate::sync::thread_local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr; $($rest:tt)*) => {
        ::loom::thread_local!($(#[$attr])* $vis static $name: $t = $init);
        $crate::sync::thread_local!($($rest)*);
    };
}
#[cfg(loom)]
pub(crate) use loom_thread_local as thread_local;

/// A `static` item: a plain one normally; under loom one that every execution of a
/// model initialises afresh (loom's objects cannot outlive an execution).
#[cfg(not(loom))]
macro_rules! process_static {
    ($(#[$attr:meta])* static $name:ident: $t:ty = $init:expr;) => {
        $(#[$attr])* static $name: $t = $init;
    };
}
/// A `static` item: a plain one normally; under loom one that every execution of a
/// model initialises afresh (loom's objects cannot outlive an execution).
#[cfg(loom)]
macro_rules! process_static {
    ($(#[$attr:meta])* static $name:ident: $t:ty = $init:expr;) => {
        ::loom::lazy_static! { $(#[$attr])* static ref $name: $t = $init; }
    };
}
pub(crate) use process_static;

/// Locks `m`, ignoring poisoning (no lock of the crate is held across user code).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Waits on `cv` until it is notified or `timeout` passes, for a caller whose
/// condition changes only together with a notification of `cv` (so it needs no
/// periodic re-check), and returns the guard taken again.
///
/// Under loom the timeout is modelled as never firing: the wait ends only when `cv`
/// is notified. That is sound for the states the models check (every change the
/// caller waits for is notified), and the timing-out path is modelled separately
/// with a zero timeout, which returns before waiting.
#[cfg_attr(not(loom), inline)]
pub(crate) fn wait_notified<'a, T>(
    cv: &Condvar,
    guard: MutexGuard<'a, T>,
    timeout: Duration,
) -> MutexGuard<'a, T> {
    #[cfg(not(loom))]
    {
        cv.wait_timeout(guard, timeout)
            .unwrap_or_else(PoisonError::into_inner)
            .0
    }
    #[cfg(loom)]
    {
        let _ = timeout;
        cv.wait(guard).unwrap_or_else(PoisonError::into_inner)
    }
}

/// Waits on `cv` for at most `timeout`, releasing `guard` (a guard of `mutex`)
/// meanwhile, and returns the guard taken again.
///
/// Under loom, whose `Condvar::wait_timeout` never times out, the wait is modelled as
/// a timeout that fires at once: the lock is released, other threads run (a yield),
/// and the lock is taken again. Callers re-check their condition after every wait, so
/// this covers both ways a real wait ends (notified or timed out).
#[cfg_attr(not(loom), inline)]
pub(crate) fn wait_timeout<'a, T>(
    cv: &Condvar,
    mutex: &'a Mutex<T>,
    guard: MutexGuard<'a, T>,
    timeout: Duration,
) -> MutexGuard<'a, T> {
    #[cfg(not(loom))]
    {
        let _ = mutex;
        cv.wait_timeout(guard, timeout)
            .unwrap_or_else(PoisonError::into_inner)
            .0
    }
    #[cfg(loom)]
    {
        let _ = (cv, timeout);
        drop(guard);
        loom::thread::yield_now();
        lock(mutex)
    }
}
