//! What every bench shares: the contenders, the values they throw away, and the
//! statistics. Included by each bench with `#[path]`; not a bench itself.
//!
//! Contenders, all in one process and one run:
//! - `inline`: a plain `drop` on the caller's thread;
//! - `bgdrop-0.1.2`: the seed crate (a `Box` per value, unbounded crossbeam channel);
//! - `defer-drop`: `DeferDrop::new(v)` dropped (a `Box`, unbounded channel);
//! - `basedrop`: `Owned::new(&handle, v)` dropped. basedrop frees nothing by itself:
//!   a `Collector` must `collect()` on some thread. As its docs suggest, a dedicated
//!   thread calls `collect()` in a loop with a 1 ms sleep. The timed hand-off includes
//!   `Owned::new`, which allocates basedrop's node (it cannot be moved out of the
//!   caller's path: the value must be wrapped to be handed off);
//! - `bgdrop pool`: `Bgdrop::drop` on a pool of the default configuration;
//! - `bgdrop Deferred`: a `bgdrop::Deferred<T>` dropped (the global pool);
//! - `bgdrop derive`: a struct with `#[derive(BackgroundDrop)]` whose one field,
//!   marked `#[bgdrop]`, holds the value (`Option<T>`, so the field has a `Default`
//!   to leave behind), dropped: the derive's expansion hands the field to the global
//!   pool.

#![allow(dead_code, reason = "each bench uses a different part of this module")]
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    reason = "durations in ns, counts and percentiles are far below 2^52"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The allocator this bench binary runs with.
pub(crate) fn allocator() -> &'static str {
    if cfg!(feature = "mimalloc") {
        "mimalloc"
    } else {
        "system (glibc malloc)"
    }
}

/// An env var parsed as a number, or `default`.
pub(crate) fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A binary tree node: one allocation per node.
pub(crate) struct Node {
    pub(crate) left: Option<Box<Node>>,
    pub(crate) right: Option<Box<Node>>,
    pub(crate) value: u64,
}

/// A complete binary tree of `height` levels: `2^height - 1` allocations.
#[allow(
    clippy::unnecessary_box_returns,
    reason = "the root is a heap node like every other, as in the seed's benchmark"
)]
pub(crate) fn tree(height: u32) -> Box<Node> {
    fn build(h: u32, v: u64) -> Option<Box<Node>> {
        (h > 0).then(|| {
            Box::new(Node {
                left: build(h - 1, 2 * v),
                right: build(h - 1, 2 * v + 1),
                value: v,
            })
        })
    }
    build(height, 1).expect("height > 0")
}

/// The contenders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Who {
    Inline,
    Seed,
    DeferDrop,
    Basedrop,
    Pool,
    Deferred,
    Derive,
}

impl Who {
    pub(crate) const ALL: [Who; 7] = [
        Who::Inline,
        Who::Seed,
        Who::DeferDrop,
        Who::Basedrop,
        Who::Pool,
        Who::Deferred,
        Who::Derive,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Who::Inline => "inline",
            Who::Seed => "bgdrop-0.1.2",
            Who::DeferDrop => "defer-drop",
            Who::Basedrop => "basedrop",
            Who::Pool => "bgdrop pool",
            Who::Deferred => "bgdrop Deferred",
            Who::Derive => "bgdrop derive",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<Who> {
        Who::ALL.into_iter().find(|w| w.name() == name)
    }
}

/// A basedrop collector on a thread of its own that collects every millisecond.
pub(crate) struct BasedropThread {
    pub(crate) handle: basedrop::Handle,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BasedropThread {
    pub(crate) fn start() -> Self {
        let mut collector = basedrop::Collector::new();
        let handle = collector.handle();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("basedrop-collector".into())
            .spawn(move || {
                while !stop2.load(Ordering::Relaxed) {
                    collector.collect();
                    std::thread::sleep(Duration::from_millis(1));
                }
                collector.collect();
                // The handle lives on in `BasedropThread`; leak the collector's
                // bookkeeping rather than free it under a live handle.
                #[allow(
                    clippy::forget_non_drop,
                    reason = "keeps the collector's queues alive, not a destructor"
                )]
                std::mem::forget(collector);
            })
            .expect("spawn the basedrop collector thread");
        BasedropThread {
            handle,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for BasedropThread {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One instance of every contender that has state.
pub(crate) struct Droppers {
    pub(crate) pool: bgdrop::Bgdrop,
    /// A second bgdrop pool whose worker runs at idle priority
    /// (`Builder::idle_priority`), for the frame loops.
    pub(crate) idle_pool: bgdrop::Bgdrop,
    /// A third, built with `Builder::follow_caller_cpu`, for the frame loops.
    pub(crate) follow_pool: bgdrop::Bgdrop,
    pub(crate) seed: bgdrop_seed::Bgdrop,
    pub(crate) basedrop: BasedropThread,
}

impl Droppers {
    pub(crate) fn new() -> Self {
        let d = Droppers {
            pool: bgdrop::Bgdrop::new(),
            idle_pool: bgdrop::Bgdrop::builder()
                .idle_priority(true)
                .thread_name("bgdrop-idle")
                .build()
                .expect("spawn the idle-priority bgdrop worker"),
            follow_pool: bgdrop::Bgdrop::builder()
                .follow_caller_cpu(true)
                .thread_name("bgdrop-follow")
                .build()
                .expect("spawn the bgdrop worker that follows the caller's CPU"),
            seed: bgdrop_seed::Bgdrop::new(),
            basedrop: BasedropThread::start(),
        };
        // Start every lazily started worker (defer-drop's, the global pool's).
        for who in Who::ALL {
            d.settle(who);
        }
        d
    }

    /// Gets rid of `value` the way `who` does.
    #[inline]
    pub(crate) fn discard<T: Send + 'static>(&self, who: Who, value: T) {
        match who {
            Who::Inline => drop(value),
            Who::Seed => self.seed.drop(value),
            Who::DeferDrop => drop(defer_drop::DeferDrop::new(value)),
            Who::Basedrop => drop(basedrop::Owned::new(&self.basedrop.handle, value)),
            Who::Pool => self.pool.drop(value),
            Who::Deferred => drop(bgdrop::Deferred::new(value)),
            Who::Derive => drop(Carrier { value: Some(value) }),
        }
    }

    /// Waits until everything `who` was given so far has been dropped.
    pub(crate) fn settle(&self, who: Who) {
        match who {
            Who::Inline => {}
            Who::Pool => self.pool.flush(),
            Who::Deferred | Who::Derive => bgdrop::flush(),
            Who::Seed | Who::DeferDrop | Who::Basedrop => {
                // The peers have no flush; their workers drop in FIFO order, so a
                // sentinel dropped after everything else proves the rest is gone.
                let (tx, rx) = mpsc::channel();
                self.discard(who, Sentinel(tx));
                rx.recv_timeout(Duration::from_mins(2))
                    .expect("a peer's worker drops the sentinel");
            }
        }
    }
}

/// The derive's contender: one field, always handed to the global pool.
#[derive(bgdrop::BackgroundDrop)]
struct Carrier<T: Send + 'static> {
    #[bgdrop]
    value: Option<T>,
}

struct Sentinel(mpsc::Sender<()>);

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

/// The `p`-th percentile (0..=100) of sorted samples, nearest rank.
pub(crate) fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// What `Instant::now()` twice costs: 1 000 samples in ns, sorted, to read timed
/// sections against.
pub(crate) fn clock_overhead() -> Vec<u64> {
    let mut clock: Vec<u64> = (0..1000)
        .map(|_| {
            let t = std::time::Instant::now();
            t.elapsed().as_nanos() as u64
        })
        .collect();
    clock.sort_unstable();
    clock
}

/// Median of unsorted samples.
pub(crate) fn median(samples: &[u64]) -> u64 {
    let mut s = samples.to_vec();
    s.sort_unstable();
    percentile(&s, 50.0)
}

/// Formats nanoseconds with a unit that keeps three significant digits.
pub(crate) fn fmt_ns(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.1} ns")
    } else if ns < 1e6 {
        format!("{:.2} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

/// The machine, for the header of every report.
pub(crate) fn print_header(bench: &str) {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let cpus = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    println!("# {bench}: {cpus} CPUs ({cpu}), allocator {}", allocator());
}
