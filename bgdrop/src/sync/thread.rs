//! Threads, parking and spinning: std's, or under loom a model of them.
//!
//! Under loom:
//! - `Builder` spawns a loom thread (loom runs its threads as coroutines and explores
//!   their interleavings);
//! - `spin_loop` and `yield_now` are loom's, which let other threads run (a spin that
//!   never yields would be an endless branch to loom);
//! - parking uses a token per thread, as std's does, on a loom `Mutex` and `Condvar`:
//!   `park` blocks until the token is there and takes it; `unpark` puts it there.
//!   `park_timeout` is modelled as a timeout that fires at once: a yield (other
//!   threads run, so an `unpark` may or may not land first), then the token is taken
//!   if it is there. A timed park thus never blocks in the model, which is sound for a
//!   caller that re-checks its condition after every wake-up (the worker loop does),
//!   and the token it may swallow is exactly what could make a later untimed `park`
//!   miss a wake-up: the case the models must see.

#[cfg(not(loom))]
pub(crate) use std::hint::spin_loop;
#[cfg(not(loom))]
pub(crate) use std::thread::{Builder, Thread, current, park, park_timeout, yield_now};

#[cfg(loom)]
pub(crate) use self::model::{Thread, current, park, park_timeout};
#[cfg(loom)]
pub(crate) use loom::hint::spin_loop;
#[cfg(loom)]
pub(crate) use loom::thread::{Builder, yield_now};

#[cfg(loom)]
mod model {
    use crate::sync::time::Duration;
    use crate::sync::{Arc, Condvar, Mutex, lock};
    use std::sync::PoisonError;

    /// A thread's park token.
    struct Parker {
        token: Mutex<bool>,
        unparked: Condvar,
    }

    loom::thread_local! {
        static PARKER: Arc<Parker> = Arc::new(Parker {
            token: Mutex::new(false),
            unparked: Condvar::new(),
        });
    }

    fn parker() -> Arc<Parker> {
        PARKER.with(Arc::clone)
    }

    /// A handle to a loom thread that can unpark it.
    #[derive(Clone)]
    pub(crate) struct Thread {
        id: loom::thread::ThreadId,
        parker: Arc<Parker>,
    }

    impl Thread {
        pub(crate) fn id(&self) -> loom::thread::ThreadId {
            self.id
        }

        pub(crate) fn unpark(&self) {
            *lock(&self.parker.token) = true;
            self.parker.unparked.notify_one();
        }
    }

    pub(crate) fn current() -> Thread {
        Thread {
            id: loom::thread::current().id(),
            parker: parker(),
        }
    }

    pub(crate) fn park() {
        let p = parker();
        let mut token = lock(&p.token);
        while !*token {
            token = p
                .unparked
                .wait(token)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *token = false;
    }

    pub(crate) fn park_timeout(_timeout: Duration) {
        loom::thread::yield_now();
        *lock(&parker().token) = false;
    }
}
