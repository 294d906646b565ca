//! Values whose destructors record where and how often they ran.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, ThreadId};

/// Records every destructor run of the [`Witness`]es made from it.
#[derive(Clone, Default)]
pub struct DropLog {
    inner: Arc<LogInner>,
}

#[derive(Default)]
struct LogInner {
    count: AtomicUsize,
    threads: Mutex<Vec<(ThreadId, Option<String>)>>,
}

impl DropLog {
    /// A new, empty log.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A value that records its drop in this log.
    #[must_use]
    pub fn witness(&self) -> Witness {
        Witness {
            log: self.clone(),
            payload: vec![0; 8],
        }
    }

    /// How many witnesses were dropped.
    #[must_use]
    pub fn count(&self) -> usize {
        self.inner.count.load(Ordering::SeqCst)
    }

    /// The threads the witnesses were dropped on, in drop order.
    #[must_use]
    pub fn threads(&self) -> Vec<(ThreadId, Option<String>)> {
        self.inner.threads.lock().unwrap().clone()
    }

    /// Whether every recorded drop ran on a bgdrop worker (default thread names).
    #[must_use]
    pub fn all_on_workers(&self) -> bool {
        self.threads()
            .iter()
            .all(|(_, name)| name.as_deref().is_some_and(|n| n.starts_with("bgdrop")))
    }

    /// Whether every recorded drop ran on the thread `id`.
    #[must_use]
    pub fn all_on(&self, id: ThreadId) -> bool {
        self.threads().iter().all(|(t, _)| *t == id)
    }
}

/// Records its drop (thread and count) in its [`DropLog`]. Owns a small heap buffer,
/// so dropping it frees memory like a real value.
pub struct Witness {
    log: DropLog,
    payload: Vec<u8>,
}

impl Drop for Witness {
    fn drop(&mut self) {
        let t = thread::current();
        self.log
            .inner
            .threads
            .lock()
            .unwrap()
            .push((t.id(), t.name().map(str::to_owned)));
        self.log.inner.count.fetch_add(1, Ordering::SeqCst);
        self.payload.clear();
    }
}

/// Counts destructor runs without recording threads: cheap enough for hundreds of
/// thousands of values.
#[derive(Clone, Default)]
pub struct Counter(Arc<AtomicUsize>);

impl Counter {
    /// A new counter at zero.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A value that bumps this counter when dropped.
    #[must_use]
    pub fn token(&self) -> Token {
        Token(Arc::clone(&self.0))
    }

    /// How many tokens were dropped.
    #[must_use]
    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Bumps its [`Counter`] when dropped.
pub struct Token(Arc<AtomicUsize>);

impl Drop for Token {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}
