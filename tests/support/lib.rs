//! Helpers shared by the behaviour tests in `tests/`.
//!
//! The derive tests give fields a [`Witness`]: a value whose destructor records the
//! thread it ran on in a [`Log`], so a test can assert where each field was dropped.

use bgdrop::{Bgdrop, DropCost};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, ThreadId};

/// The two structs of issue 4's item 7, compiled into this library as well:
/// `examples/instructions.rs` drops them from another crate (`plain_lib`,
/// `derived_lib`), where the derive's `Drop` is inlined only if it is `#[inline]`.
#[path = "../../examples/support/two_fields.rs"]
pub mod two_fields;

/// Where each witness was dropped, by name.
#[derive(Clone, Default)]
pub struct Log {
    drops: Arc<Mutex<BTreeMap<String, Vec<Dropped>>>>,
}

/// The thread one witness was dropped on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dropped {
    /// The thread's id.
    pub id: ThreadId,
    /// The thread's name, if it has one.
    pub name: Option<String>,
}

impl Dropped {
    fn current() -> Self {
        let thread = thread::current();
        Dropped {
            id: thread.id(),
            name: thread.name().map(str::to_owned),
        }
    }

    /// Whether this drop ran on a bgdrop worker thread (named `bgdrop-N` by default,
    /// or with the prefix the tests give their pools).
    #[must_use]
    pub fn on_worker(&self) -> bool {
        self.id != thread::current().id()
            && self.name.as_deref().is_some_and(|n| n.contains("bgdrop-"))
    }
}

impl Log {
    /// An empty log.
    #[must_use]
    pub fn new() -> Self {
        Log::default()
    }

    /// A witness that records its drop under `name`, with a drop cost of 1.
    #[must_use]
    pub fn witness(&self, name: &str) -> Witness {
        self.witness_costing(name, 1)
    }

    /// A witness that records its drop under `name` and reports `cost` as its
    /// [`DropCost`].
    #[must_use]
    pub fn witness_costing(&self, name: &str, cost: usize) -> Witness {
        Witness {
            name: Some(name.to_owned()),
            cost,
            log: Some(self.clone()),
        }
    }

    /// Where each drop of the witness called `name` ran, in order.
    #[must_use]
    pub fn drops(&self, name: &str) -> Vec<Dropped> {
        self.lock().get(name).cloned().unwrap_or_default()
    }

    /// The one drop of `name`; panics unless it was dropped exactly once.
    #[must_use]
    pub fn dropped_once(&self, name: &str) -> Dropped {
        let drops = self.drops(name);
        assert_eq!(drops.len(), 1, "`{name}` dropped {} times", drops.len());
        drops.into_iter().next().expect("one drop")
    }

    /// Asserts that `name` was dropped once, on a bgdrop worker thread.
    #[track_caller]
    pub fn assert_on_worker(&self, name: &str) {
        let d = self.dropped_once(name);
        assert!(
            d.on_worker(),
            "`{name}` was dropped on {d:?}, not on a worker"
        );
    }

    /// Asserts that `name` was dropped once, on the calling thread.
    #[track_caller]
    pub fn assert_inline(&self, name: &str) {
        let d = self.dropped_once(name);
        assert_eq!(
            d.id,
            thread::current().id(),
            "`{name}` was dropped on {d:?}, not inline"
        );
    }

    /// Asserts that `name` has not been dropped yet.
    #[track_caller]
    pub fn assert_alive(&self, name: &str) {
        assert!(self.drops(name).is_empty(), "`{name}` was already dropped");
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Vec<Dropped>>> {
        self.drops.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A field value that records the thread its destructor runs on.
///
/// Its [`Default`] records nothing, so the value `mem::take` leaves behind is silent.
#[derive(Default)]
pub struct Witness {
    name: Option<String>,
    cost: usize,
    log: Option<Log>,
}

impl Drop for Witness {
    fn drop(&mut self) {
        if let (Some(name), Some(log)) = (self.name.take(), &self.log) {
            log.lock().entry(name).or_default().push(Dropped::current());
        }
    }
}

impl DropCost for Witness {
    fn drop_cost(&self) -> usize {
        self.cost
    }
}

/// A dedicated pool for one test, named so that [`Dropped::on_worker`] recognises
/// its threads. Tests use their own pools so that their [`bgdrop::Stats`] are their
/// own.
#[must_use]
pub fn pool() -> Bgdrop {
    Bgdrop::builder()
        .thread_name("bgdrop")
        .build()
        .expect("spawn a worker")
}

/// The calling thread's entry in `/proc/self/task`, for [`wait_until_asleep`]:
/// `None` where `/proc` is not there.
#[must_use]
pub fn task_id() -> Option<String> {
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    Some(link.file_name()?.to_str()?.to_owned())
}

/// Returns once the thread `task` (its [`task_id`]) sleeps in the kernel, blocked
/// on a lock, a condition variable or a park (state `S` in `/proc`), or has exited:
/// a test that must publish only after a waiter blocked waits for exactly that.
/// Without `/proc` (`task` is `None`) it yields for 50 ms instead.
pub fn wait_until_asleep(task: Option<&str>) {
    let Some(task) = task else {
        let start = std::time::Instant::now();
        while start.elapsed() < std::time::Duration::from_millis(50) {
            thread::yield_now();
        }
        return;
    };
    loop {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/self/task/{task}/stat")) else {
            return; // exited
        };
        // The state follows the command name, which is in parentheses.
        let state = stat
            .rfind(')')
            .and_then(|end| stat[end + 1..].trim_start().chars().next());
        if state == Some('S') {
            return;
        }
        thread::yield_now();
    }
}

/// Defines `fn NAME() -> &'static Bgdrop` returning a pool of its own, for
/// `#[bgdrop(pool = NAME)]`: one per test, so that tests running in parallel never
/// see each other's values in [`Bgdrop::stats`].
#[macro_export]
macro_rules! static_pool {
    ($(#[$meta:meta])* $vis:vis fn $name:ident) => {
        $(#[$meta])*
        $vis fn $name() -> &'static ::bgdrop::Bgdrop {
            static POOL: ::std::sync::OnceLock<::bgdrop::Bgdrop> = ::std::sync::OnceLock::new();
            POOL.get_or_init($crate::pool)
        }
    };
}

pub mod witness;

pub use witness::{Counter, DropLog, Token};
