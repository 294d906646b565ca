//! Drop big values on background threads, so the threads that matter never stall
//! freeing memory.
//!
//! Dropping a large `Vec<Vec<_>>`, `HashMap` or tree frees every allocation in it, one
//! by one, on the thread that drops it: milliseconds for a big structure. In a game
//! loop, an audio callback, a request handler or a database shard loop, that is a
//! missed deadline. bgdrop hands such values to a small pool of worker threads, which
//! drop them there; the caller pays a move into a buffer of its own (tens of
//! nanoseconds at most) instead.
//!
//! # Quick start
//!
//! ```
//! use std::collections::HashMap;
//!
//! let index: HashMap<u64, Vec<u8>> = (0..100_000).map(|i| (i, vec![0; 16])).collect();
//! bgdrop::defer(index); // returns at once; a worker frees the 100 001 allocations
//! ```
//!
//! [`defer`] uses the [global](global()) pool, which starts on first use with one
//! worker thread. For values of many sizes, [`defer_if_costly`] drops the small ones
//! right away (cheaper than handing them off) and defers the rest, by their
//! [`DropCost`]. [`Deferred<T>`] wraps a value so that dropping the wrapper defers it.
//!
//! # The derive
//!
//! `#[derive(BackgroundDrop)]` (feature `derive`, on by default) writes the `Drop`
//! impl for you: the fields you mark are taken out of the value and shipped to the
//! pool in one hand-off, the others drop in place as usual.
//!
#![cfg_attr(feature = "derive", doc = "```")]
#![cfg_attr(not(feature = "derive"), doc = "```ignore")]
//! use bgdrop::BackgroundDrop;
//! use std::collections::HashMap;
//!
//! #[derive(BackgroundDrop)]
//! struct Scene {
//!     name: String,                       // dropped in place
//!     #[bgdrop]
//!     meshes: Vec<Vec<[f32; 3]>>,         // always deferred
//!     #[bgdrop(threshold = 1024)]
//!     lookup: HashMap<u32, String>,       // deferred when its DropCost >= 1024
//! }
//!
//! let scene = Scene {
//!     name: "level 1".into(),
//!     meshes: vec![vec![[0.0; 3]; 300]; 500],
//!     lookup: HashMap::new(),
//! };
//! drop(scene); // `meshes` is freed on a worker; `name` and the empty map here
//! ```
//!
//! See [`BackgroundDrop`] for every attribute.
//!
//! # Thresholds and `DropCost`
//!
//! A hand-off is not free: for a value that owns one small allocation, dropping it
//! inline is faster than deferring it. [`DropCost`] estimates in O(1) how many
//! allocations dropping a value frees (plus one unit per 4 KiB page of a large flat
//! buffer, which is costly to return to the kernel). [`Bgdrop::drop_if_costly`],
//! [`defer_if_costly`] and `#[bgdrop(threshold = N)]` defer a value only when its cost
//! reaches the threshold, [`DEFAULT_THRESHOLD`] (64) unless configured.
//!
//! ```
//! use bgdrop::DropCost;
//!
//! let small = vec![1u32, 2, 3];
//! let nested = vec![vec![0u8; 10]; 1000];
//! assert!(small.drop_cost() < bgdrop::DEFAULT_THRESHOLD); // stays inline
//! assert!(nested.drop_cost() >= bgdrop::DEFAULT_THRESHOLD); // deferred
//! bgdrop::defer_if_costly(small);
//! bgdrop::defer_if_costly(nested);
//! ```
//!
//! # The global pool
//!
//! [`global()`] returns the process-wide pool that [`defer`], [`Deferred`] and the
//! derive use. To configure it (more threads, a larger queue, another
//! [`FullPolicy`]), call [`Builder::install_global`] at the start of `main`, before
//! anything defers a value.
//!
//! # Owning a pool
//!
//! [`Bgdrop::new`], [`Bgdrop::with_threads`] and [`Bgdrop::builder`] create a pool of
//! your own; clone the handle to share it. A pool has a bounded queue
//! ([`DEFAULT_CAPACITY`] values): when a producer outruns the workers, the
//! [`FullPolicy`] decides whether the caller drops the value itself (the default),
//! waits for room, or lets the queue grow. Under the default policy a thread that
//! streams values into a pool whose workers it keeps busy also drops them itself for
//! a while ([`Builder::inline_when_saturated`]), which with glibc's allocator is
//! faster than freeing alongside a worker; threads that hand over a few values at a
//! time are never sent back.
//! [`Bgdrop::flush`] waits until everything handed over so far has been dropped, and
//! [`Bgdrop::stats`] counts what happened.
//!
//! # How a value reaches a worker
//!
//! Each thread that hands values to a pool gets a *stage* for it: a buffer of up to 128
//! values behind a lock that, in the steady state, only that thread takes (one
//! compare-and-swap, no cache line shared with a worker). A full stage goes to the
//! pool's queue (crossbeam-channel) as one message. A stage that is not full is taken
//! by the workers themselves: before every sleep of an idle worker (at least once a
//! millisecond while the pool has had work in the last second) and every millisecond
//! while they are busy; [`flush`](Bgdrop::flush) takes the stages and queues their
//! values ahead of its barrier, and shutdown takes and seals them. With one worker,
//! a thread's values are dropped in the order it handed them over. The pool's
//! capacity counts values waiting in stages and in the queue alike.
//!
//! ```
//! use bgdrop::{Bgdrop, FullPolicy};
//!
//! let pool = Bgdrop::builder().threads(2).when_full(FullPolicy::Block).build()?;
//! let worker_side = pool.clone();
//! worker_side.drop(vec![String::from("x"); 10_000]);
//! pool.flush();
//! assert_eq!(pool.stats().completed, 1);
//! # Ok::<(), bgdrop::BuildError>(())
//! ```
//!
//! # Batches
//!
//! [`Batch`] collects values on the caller at the cost of a move (no queue, no atomic
//! operation, no allocation once warm) and hands them all to the pool in one hand-off
//! when you call [`release`](Batch::release): at the end of a frame, a request or a
//! transaction, so the workers free that memory while your thread is idle.
//!
//! ```
//! let mut garbage = bgdrop::Batch::new();
//! garbage.push(vec![vec![0u8; 100]; 100]);
//! garbage.push(String::from("request log"));
//! garbage.release(); // one hand-off for both
//! ```
//!
//! # Latest values and shared values
//!
//! [`Slot<T>`] holds the latest version of something that one thread replaces and
//! others read (a configuration, a routing table): [`Slot::publish`] never frees the
//! replaced value on the publisher, and a reader that drops the last
//! [`Snapshot`] of an old version does not free it either; the pool does.
//! [`Shared<T>`] is the same promise for a value shared like an `Arc`: whichever
//! thread lets go last pays a hand-off, never the destructor.
//!
//! ```
//! let config = bgdrop::Slot::new(vec![String::from("v0"); 1000]);
//! let snapshot = config.load();
//! config.publish(vec![String::from("v1"); 1000]);
//! assert_eq!((snapshot.version(), config.load().version()), (0, 1));
//! drop(snapshot); // the last reader of version 0: it is freed on a worker
//! ```
//!
//! # Shutdown and process exit
//!
//! No value handed to bgdrop is lost:
//!
//! - When the last handle of a pool is dropped, the pool stops taking values, its
//!   workers drop everything still queued, and the drop returns once they have exited.
//! - The global pool is never dropped; instead a hook registered with the C runtime's
//!   `atexit` drains it when the process exits normally (return from `main`,
//!   [`std::process::exit`], a panic in `main`). From that point on, values are dropped
//!   by the thread that hands them over; queued values are dropped by the workers and
//!   a helper thread together. The exiting thread waits at most the exit timeout
//!   ([`DEFAULT_EXIT_TIMEOUT`], see [`Builder::exit_timeout`]) for destructors still
//!   running, so a destructor that never returns cannot hang the process forever.
//!   Aborts, signals and `panic = "abort"` skip it, as they skip every destructor.
//!
//! Deferring never deadlocks: a value handed over from a worker thread (a destructor
//! that defers more values, including derived types nested in deferred fields) or
//! while the pool is shutting down is dropped on the spot, whatever the policy.
//!
//! # Panics in destructors
//!
//! A destructor that panics on a worker is caught there: the worker goes on with the
//! next value, [`flush`](Bgdrop::flush) still returns, and [`Stats::panicked`] counts
//! it. The panic message is printed by the panic hook as usual. (With
//! `panic = "abort"` the process aborts, as it would without bgdrop.)
//!
//! # When not to use bgdrop
//!
//! - **Small values.** Dropping a `String` or a short `Vec<u8>` costs a few
//!   nanoseconds; handing it off costs more. Use the threshold APIs, or don't defer.
//! - **Ordering.** A deferred destructor runs later, on another thread, in no fixed
//!   order with the caller's code. Do not defer values whose destructors must run at a
//!   known point: lock guards, files that must be flushed before you read them back,
//!   anything that signals another part of the program.
//! - **Prompt release.** Memory is held until a worker gets to it: up to about a
//!   millisecond on a pool in use (a value waits in its thread's stage until a worker
//!   takes it); on a pool idle for over a second, tens of microseconds after the
//!   hand-off wakes a worker, or up to 50 ms with
//!   [`Builder::wake_cold_workers`]`(false)`. A program that frees memory to allocate
//!   it again at once may not want to wait for that.
//! - **`!Send` values.** Values must be `Send + 'static` to cross to a worker.
//!
//! A worker competes with your threads for CPU and for the allocator's locks. On a
//! machine with few cores, measure: the README's performance section shows where
//! bgdrop helps and where it does not.
//!
//! # Frame loops: free in the loop's idle time
//!
//! With glibc's allocator, a worker that frees a frame's garbage on another CPU while
//! the loop builds its next frame slows that build down several times over: the two
//! threads fight over the allocator's free lists, and the loop then reuses memory
//! whose cache lines sit on the other CPU. A loop that sleeps between frames (a
//! game loop, an audio or a render callback) does better with
//! [`Builder::follow_caller_cpu`]: the worker frees each value on the CPU the loop
//! handed it over from, at idle priority, so only while the loop sleeps; a loop
//! that does not sleep drops its values itself. It is for loops that allocate their
//! own garbage: where other threads fill the loop's idle time, or the loop allocates
//! nothing, the default pool does better (the README has both measured).
//!
//! ```
//! let pool = bgdrop::Bgdrop::builder().follow_caller_cpu(true).build()?;
//! let frame: Vec<Vec<u8>> = vec![vec![0; 64]; 10_000];
//! pool.drop(frame); // freed on this CPU once this thread sleeps (or blocks)
//! # pool.flush();
//! # Ok::<(), bgdrop::BuildError>(())
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]

mod batch;
mod cost;
mod deferred;
mod global;
#[cfg(all(test, loom))]
mod loom_models;
mod pool;
mod raw;
mod shared;
mod slot;
mod stage;
mod stats;
mod sync;
mod worker;

#[doc(hidden)]
pub mod __private;

pub use crate::batch::Batch;
pub use crate::cost::{BYTES_PER_UNIT, DEFAULT_THRESHOLD, DropCost};
pub use crate::deferred::Deferred;
pub use crate::global::{
    DEFAULT_EXIT_TIMEOUT, InstallError, defer, defer_if_costly, flush, flush_timeout, global,
};
pub use crate::pool::{Bgdrop, BuildError, Builder, DEFAULT_CAPACITY, FULL_BACKOFF, FullPolicy};
pub use crate::shared::Shared;
#[cfg(feature = "async")]
pub use crate::slot::WaitNewer;
pub use crate::slot::{Slot, Snapshot};
pub use crate::stats::Stats;
pub use crate::worker::WorkerThread;

#[cfg(feature = "derive")]
pub use bgdrop_derive::BackgroundDrop;

/// The seed crate's module layout (`bgdrop::prelude::Bgdrop`), kept working.
pub mod prelude {
    pub use crate::{Bgdrop, DropCost, defer};
}

/// The seed crate's other path to the pool type (`bgdrop::bgdrop::Bgdrop`), kept
/// working.
#[doc(hidden)]
pub mod bgdrop {
    pub use crate::Bgdrop;
}

/// The README's code blocks, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
