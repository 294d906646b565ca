//! `bgdrop::Slot<T>` against the two usual ways to publish a value that readers on
//! other threads look up: `std::sync::RwLock<Arc<T>>` and `tokio::sync::watch`.
//! Publisher-side and reader-side tails, every contender in one run. A
//! `harness = false` bench: it reports percentiles of individually timed calls.
//!
//! ```text
//! cargo bench --bench slot
//! ```
//!
//! The value is a `HashMap<u64, u64>` of `SLOT_ENTRIES` entries (default 1 000 000:
//! one table of about 34 MiB, so freeing it is one `munmap` of a touched mapping),
//! tagged with its contender so that its destructor can count which thread freed it.
//!
//! - `bgdrop Slot`: `Slot::with_pool(map, &pool)` on a `Bgdrop::new()` pool;
//!   publish = `slot.publish(map)`; read = `slot.load()`, a lookup, the snapshot
//!   dropped.
//! - `RwLock<Arc<T>>`, the careful way: publish = the new `Arc` allocated, swapped in
//!   under the write lock with `mem::replace`, the old `Arc` dropped after the lock is
//!   released; read = the `Arc` cloned under the read lock, a lookup, the clone
//!   dropped.
//! - `tokio watch`: publish = `tx.send_replace(map)` and the returned old map dropped
//!   on the publisher (what `send` does); read = `rx.borrow()` on the reader's own
//!   cloned receiver, a lookup, the borrow dropped. A borrow holds the channel's read
//!   lock, so a reader holding one blocks the sender.
//!
//! The publisher (the main thread) publishes `SLOT_PUBLISHES` maps per contender
//! (default 30), in blocks of 5 per contender with the contenders' order rotating
//! every round. Each map is built just before its publication, outside the timing, as
//! a copy of a template map built once (a new table, every page of it written; far
//! quicker than a million inserts); publications are at least `SLOT_PERIOD_MS`
//! (default 20) ms apart, more when the build takes longer, so the pool's worker
//! keeps up. Each `publish` call is timed on its own. The pool is flushed between
//! blocks.
//!
//! Each contender has `SLOT_READERS` reader threads (default 1), which read only
//! during their contender's blocks (they wait on a condition variable otherwise) and
//! read for the whole block, from one period before its first publication to one
//! period after its last. One read = load + lookup of a random key + release of the snapshot, timed
//! with `Instant`. The readers alternate `SLOT_HOLD_US` (default 1000) µs of plain
//! reads with as long holding a snapshot: the read that starts a hold keeps its
//! snapshot, the read that ends it also releases the held one (timed with it). So a
//! publication lands in a hold about half the time, and then the reader, not the
//! publisher, lets go of the old value last: with `RwLock<Arc<T>>` the reader frees
//! the map; with a `Slot` it hands it to the pool. A watch borrow cannot be held while
//! borrowing again (the sender may be waiting for the write lock: a deadlock), so a
//! watch reader's reads during a hold look up in the held borrow, without locking
//! (cheaper reads, which pull its percentiles down a little; more so with small maps).
//!
//! Reported: the publish call time (p50, p99, max; with 30 samples, nearest rank, p99
//! is the max), the read time (p50, p99, p99.9, max, the number of reads and of reads
//! of 1 ms or more: a map freed by a reader shows there, a few reads in millions, far
//! beyond p99.9), how often the readers were preempted during their blocks
//! (involuntary context switches, from `/proc`: with 2 CPUs, the publisher copying the
//! next map, the reader and a worker freeing the last one compete for them), ratios
//! against `RwLock<Arc<T>>`, and which threads freed the replaced maps (counted by the
//! map's destructor). Under `RwLock<Arc<T>>` a reader can be the last owner even
//! outside a hold: the clone it took just before the swap may outlive the publisher's
//! `drop(old)`.

#![allow(
    clippy::cast_precision_loss,
    reason = "durations in ns and counts are far below 2^52"
)]
#![allow(
    clippy::cast_sign_loss,
    reason = "the decimals of a ratio below 1 are a positive count"
)]

#[path = "common/mod.rs"]
mod common;

use bgdrop::{Bgdrop, Slot, Snapshot};
use common::{env_or, fmt_ns, percentile};
use std::cell::Cell;
use std::collections::HashMap;
use std::hint::black_box;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Publications per contender in a row, before the next contender's turn.
const BLOCK: usize = 5;

/// The contenders, in table order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Slot,
    Lock,
    Watch,
}

impl Who {
    const ALL: [Who; 3] = [Who::Slot, Who::Lock, Who::Watch];
    /// The baseline of the ratio columns.
    const BASELINE: Who = Who::Lock;

    fn name(self) -> &'static str {
        match self {
            Who::Slot => "bgdrop `Slot`",
            Who::Lock => "`RwLock<Arc<T>>`",
            Who::Watch => "tokio `watch`",
        }
    }

    fn index(self) -> usize {
        match self {
            Who::Slot => 0,
            Who::Lock => 1,
            Who::Watch => 2,
        }
    }
}

/// The roles of the threads that can free a map, for `FREED`.
const PUBLISHER: usize = 0;
const READER: usize = 1;
/// Any thread that did not say: the pool's workers.
const WORKER: usize = 2;

thread_local! {
    static ROLE: Cell<usize> = const { Cell::new(WORKER) };
}

/// Maps freed, per contender and per role of the freeing thread.
static FREED: [[AtomicU64; 3]; 3] = [const { [const { AtomicU64::new(0) }; 3] }; 3];

/// The published value: the map, and the contender it belongs to.
struct Map {
    table: HashMap<u64, u64>,
    who: Who,
}

impl Deref for Map {
    type Target = HashMap<u64, u64>;
    fn deref(&self) -> &HashMap<u64, u64> {
        &self.table
    }
}

impl Drop for Map {
    fn drop(&mut self) {
        let role = ROLE.with(Cell::get);
        FREED[self.who.index()][role].fetch_add(1, Ordering::Relaxed);
        // The table is freed right after, on this thread.
    }
}

/// The map every published one is a copy of: `entries` keys, built once.
fn template(entries: u64) -> HashMap<u64, u64> {
    let mut table = HashMap::with_capacity(entries as usize);
    table.extend((0..entries).map(|k| (k, k)));
    table
}

/// A fresh map: a copy of the template (a new table of the same size, every page of
/// it written) with its version under key 0.
fn map(template: &HashMap<u64, u64>, version: u64, who: Who) -> Map {
    let mut table = template.clone();
    table.insert(0, version);
    Map { table, who }
}

/// The reader's handle on a contender.
trait Side: Send + 'static {
    type Snap<'a>: Deref<Target = Map>
    where
        Self: 'a;
    /// Whether a reader may load again while it holds a snapshot.
    const LOAD_WHILE_HOLDING: bool;
    fn load(&self) -> Self::Snap<'_>;
}

impl Side for Arc<Slot<Map>> {
    type Snap<'a> = Snapshot<Map>;
    const LOAD_WHILE_HOLDING: bool = true;
    #[inline]
    fn load(&self) -> Snapshot<Map> {
        Slot::load(self)
    }
}

impl Side for Arc<RwLock<Arc<Map>>> {
    type Snap<'a> = Arc<Map>;
    const LOAD_WHILE_HOLDING: bool = true;
    #[inline]
    fn load(&self) -> Arc<Map> {
        Arc::clone(&self.read().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Side for watch::Receiver<Map> {
    type Snap<'a> = watch::Ref<'a, Map>;
    const LOAD_WHILE_HOLDING: bool = false;
    #[inline]
    fn load(&self) -> watch::Ref<'_, Map> {
        self.borrow()
    }
}

/// The publisher's handle on a contender.
enum Publisher {
    Slot(Arc<Slot<Map>>),
    Lock(Arc<RwLock<Arc<Map>>>),
    Watch(watch::Sender<Map>),
}

impl Publisher {
    #[inline]
    fn publish(&self, map: Map) {
        match self {
            Publisher::Slot(slot) => {
                black_box(slot.publish(map));
            }
            Publisher::Lock(lock) => {
                let fresh = Arc::new(map);
                let old = std::mem::replace(
                    &mut *lock.write().unwrap_or_else(PoisonError::into_inner),
                    fresh,
                );
                drop(old);
            }
            Publisher::Watch(tx) => {
                let old = tx.send_replace(map);
                drop(old);
            }
        }
    }
}

/// Starts and pauses the readers of one contender.
struct Gate {
    state: Mutex<GateState>,
    changed: Condvar,
    running: AtomicBool,
    readers: usize,
}

#[derive(Default)]
struct GateState {
    /// One more per block.
    epoch: u64,
    /// Readers inside a block.
    active: usize,
    stop: bool,
}

impl Gate {
    fn new(readers: usize) -> Self {
        Gate {
            state: Mutex::new(GateState::default()),
            changed: Condvar::new(),
            running: AtomicBool::new(false),
            readers,
        }
    }

    fn wait_until(&self, done: impl Fn(&GateState) -> bool) -> MutexGuard<'_, GateState> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        self.changed
            .wait_while(state, |s| !done(s))
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn update(&self, change: impl FnOnce(&mut GateState)) {
        change(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner));
        self.changed.notify_all();
    }

    /// Publisher: lets the readers go, and returns once all of them read.
    fn start(&self) {
        self.running.store(true, Ordering::SeqCst);
        self.update(|s| s.epoch += 1);
        drop(self.wait_until(|s| s.active == self.readers));
    }

    /// Publisher: stops the readers, and returns once none of them reads.
    fn pause(&self) {
        self.running.store(false, Ordering::SeqCst);
        drop(self.wait_until(|s| s.active == 0));
    }

    fn stop(&self) {
        self.update(|s| s.stop = true);
    }

    /// Reader: waits for the next block; `false` when the run is over.
    fn enter(&self, seen: &mut u64) -> bool {
        let last = *seen;
        let mut state = self.wait_until(|s| s.stop || s.epoch > last);
        if state.stop {
            return false;
        }
        *seen = state.epoch;
        state.active += 1;
        drop(state);
        self.changed.notify_all();
        true
    }

    fn leave(&self) {
        self.update(|s| s.active -= 1);
    }
}

/// This thread's involuntary context switches so far (0 if `/proc` cannot tell).
fn preemptions() -> u64 {
    std::fs::read_to_string("/proc/thread-self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("nonvoluntary_ctxt_switches"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// A reader thread: reads during its contender's blocks; returns the read times and
/// how many times it was preempted during the blocks.
fn read<S: Side>(
    side: &S,
    gate: &Gate,
    entries: u64,
    phase: Duration,
    seed: u64,
) -> (Vec<u64>, u64) {
    ROLE.with(|r| r.set(READER));
    let mut samples = Vec::with_capacity(1 << 20);
    let mut preempted = 0;
    let mut key = seed;
    let mut epoch = 0;
    while gate.enter(&mut epoch) {
        let before = preemptions();
        let mut held: Option<S::Snap<'_>> = None;
        let mut phase_end = Instant::now() + phase;
        while gate.running.load(Ordering::Relaxed) {
            key = key
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let k = (key >> 33) % entries;
            let start = Instant::now();
            let switch = start >= phase_end;
            match held.take() {
                None => {
                    let snap = side.load();
                    black_box(snap.get(&k));
                    if switch {
                        held = Some(snap);
                    } else {
                        drop(snap);
                    }
                }
                Some(kept) => {
                    if S::LOAD_WHILE_HOLDING {
                        let snap = side.load();
                        black_box(snap.get(&k));
                        drop(snap);
                    } else {
                        black_box(kept.get(&k));
                    }
                    if switch {
                        drop(kept);
                    } else {
                        held = Some(kept);
                    }
                }
            }
            samples.push(start.elapsed().as_nanos() as u64);
            if switch {
                phase_end = start + phase;
            }
        }
        if let Some(kept) = held.take() {
            let start = Instant::now();
            drop(kept);
            samples.push(start.elapsed().as_nanos() as u64);
        }
        preempted += preemptions() - before;
        gate.leave();
    }
    (samples, preempted)
}

/// What one run measured, per contender (indexed by `Who::index`).
#[derive(Default)]
struct Results {
    publish: [Vec<u64>; 3],
    reads: [Vec<u64>; 3],
    /// Involuntary context switches of the readers during their blocks.
    preempted: [u64; 3],
    /// Map build times (outside the timing).
    builds: Vec<u64>,
    /// Time between two publications of one block.
    gaps: Vec<u64>,
}

struct Config {
    entries: u64,
    publishes: usize,
    readers: usize,
    period: Duration,
    hold: Duration,
}

/// The publisher's side of the run: blocks of publications, in rotating order.
fn publish_all(
    cfg: &Config,
    template: &HashMap<u64, u64>,
    pool: &Bgdrop,
    publishers: &[Publisher; 3],
    gates: &[Gate; 3],
) -> Results {
    let mut res = Results::default();
    let mut remaining = [cfg.publishes; 3];
    let mut version = [1u64; 3];
    let mut round = 0;
    while remaining.iter().any(|&r| r > 0) {
        for i in 0..Who::ALL.len() {
            let who = Who::ALL[(round + i) % Who::ALL.len()];
            let c = who.index();
            let n = remaining[c].min(BLOCK);
            remaining[c] -= n;
            if n == 0 {
                continue;
            }
            pool.flush();
            gates[c].start();
            let mut last = Instant::now();
            for p in 0..n {
                let built = Instant::now();
                let next = map(template, version[c], who);
                version[c] += 1;
                res.builds.push(built.elapsed().as_nanos() as u64);
                sleep_until(last + cfg.period);
                let start = Instant::now();
                publishers[c].publish(next);
                res.publish[c].push(start.elapsed().as_nanos() as u64);
                if p > 0 {
                    res.gaps.push((start - last).as_nanos() as u64);
                }
                last = start;
            }
            sleep_until(last + cfg.period);
            gates[c].pause();
            pool.flush();
        }
        round += 1;
    }
    res
}

fn sleep_until(due: Instant) {
    let now = Instant::now();
    if due > now {
        std::thread::sleep(due - now);
    }
}

fn main() {
    common::print_header("slot");
    ROLE.with(|r| r.set(PUBLISHER));
    let cfg = Config {
        entries: env_or("SLOT_ENTRIES", 1_000_000).max(1) as u64,
        publishes: env_or("SLOT_PUBLISHES", 30),
        readers: env_or("SLOT_READERS", 1).max(1),
        period: Duration::from_millis(env_or("SLOT_PERIOD_MS", 20) as u64),
        hold: Duration::from_micros(env_or("SLOT_HOLD_US", 1000) as u64),
    };

    // For reading the tables: what a map costs to build and to free inline.
    let template = template(cfg.entries);
    let probe = template.clone();
    let start = Instant::now();
    drop(probe);
    let free_inline = start.elapsed().as_nanos() as u64;
    let clock = common::clock_overhead();

    let pool = Bgdrop::new();
    let slot = Arc::new(Slot::with_pool(map(&template, 0, Who::Slot), &pool));
    let lock = Arc::new(RwLock::new(Arc::new(map(&template, 0, Who::Lock))));
    let (tx, rx) = watch::channel(map(&template, 0, Who::Watch));
    let publishers = [
        Publisher::Slot(Arc::clone(&slot)),
        Publisher::Lock(Arc::clone(&lock)),
        Publisher::Watch(tx),
    ];
    let gates = [
        Gate::new(cfg.readers),
        Gate::new(cfg.readers),
        Gate::new(cfg.readers),
    ];

    let mut res = std::thread::scope(|scope| {
        let mut handles = Vec::new();
        for r in 0..cfg.readers {
            let seed = r as u64 + 1;
            let (slot, lock, rx) = (Arc::clone(&slot), Arc::clone(&lock), rx.clone());
            let (gates, cfg) = (&gates, &cfg);
            handles.push((
                Who::Slot,
                scope.spawn(move || read(&slot, &gates[0], cfg.entries, cfg.hold, seed)),
            ));
            handles.push((
                Who::Lock,
                scope.spawn(move || read(&lock, &gates[1], cfg.entries, cfg.hold, seed)),
            ));
            handles.push((
                Who::Watch,
                scope.spawn(move || read(&rx, &gates[2], cfg.entries, cfg.hold, seed)),
            ));
        }
        let mut res = publish_all(&cfg, &template, &pool, &publishers, &gates);
        for gate in &gates {
            gate.stop();
        }
        for (who, handle) in handles {
            let (samples, preempted) = handle.join().expect("a reader thread");
            res.reads[who.index()].extend(samples);
            res.preempted[who.index()] += preempted;
        }
        res
    });
    pool.flush();
    let freed: Vec<[u64; 3]> = FREED
        .iter()
        .map(|row| [PUBLISHER, READER, WORKER].map(|role| row[role].load(Ordering::Relaxed)))
        .collect();

    for s in res
        .publish
        .iter_mut()
        .chain(res.reads.iter_mut())
        .chain([&mut res.builds, &mut res.gaps])
    {
        s.sort_unstable();
    }
    println!(
        "\nvalue: `HashMap<u64, u64>` of {} entries; building one (outside the timing): p50 {}; freeing one inline: {}; publications at least {} ms apart (measured p50 {}); {} reader thread(s) per contender, alternating {} of plain reads and of holding a snapshot; `Instant::now()` twice: p50 {}",
        cfg.entries,
        fmt_ns(percentile(&res.builds, 50.0) as f64),
        fmt_ns(free_inline as f64),
        cfg.period.as_millis(),
        fmt_ns(percentile(&res.gaps, 50.0) as f64),
        cfg.readers,
        fmt_ns(cfg.hold.as_nanos() as f64),
        fmt_ns(percentile(&clock, 50.0) as f64),
    );
    report_publisher(&res, cfg.publishes);
    report_readers(&res);
    report_freed(&freed, cfg.publishes);
}

/// `x / base` with two significant digits at least.
fn ratio(x: u64, base: u64) -> String {
    let r = x as f64 / base.max(1) as f64;
    let decimals = if r >= 1.0 || r == 0.0 {
        2
    } else {
        (1.0 - r.log10().floor()) as usize
    };
    format!("{r:.decimals$}×")
}

fn report_publisher(res: &Results, publishes: usize) {
    let base = &res.publish[Who::BASELINE.index()];
    let b = Who::BASELINE.name();
    println!(
        "\n## publisher side: time of the `publish` call, {publishes} publications per contender"
    );
    println!("| contender | p50 | p99 | max | p99 vs {b} | max vs {b} |");
    println!("|---|---:|---:|---:|---:|---:|");
    for who in Who::ALL {
        let s = &res.publish[who.index()];
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            who.name(),
            fmt_ns(percentile(s, 50.0) as f64),
            fmt_ns(percentile(s, 99.0) as f64),
            fmt_ns(percentile(s, 100.0) as f64),
            ratio(percentile(s, 99.0), percentile(base, 99.0)),
            ratio(percentile(s, 100.0), percentile(base, 100.0)),
        );
    }
}

fn report_readers(res: &Results) {
    let base = &res.reads[Who::BASELINE.index()];
    let b = Who::BASELINE.name();
    println!(
        "\n## reader side: time of one read (load + lookup + release of the snapshot, and of the held one when a hold ends)"
    );
    println!(
        "| contender | reads | p50 | p99 | p99.9 | max | reads ≥ 1 ms | reader preempted | p99 vs {b} | p99.9 vs {b} | max vs {b} |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for who in Who::ALL {
        let s = &res.reads[who.index()];
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            who.name(),
            s.len(),
            fmt_ns(percentile(s, 50.0) as f64),
            fmt_ns(percentile(s, 99.0) as f64),
            fmt_ns(percentile(s, 99.9) as f64),
            fmt_ns(percentile(s, 100.0) as f64),
            s.len() - s.partition_point(|&ns| ns < 1_000_000),
            res.preempted[who.index()],
            ratio(percentile(s, 99.0), percentile(base, 99.0)),
            ratio(percentile(s, 99.9), percentile(base, 99.9)),
            ratio(percentile(s, 100.0), percentile(base, 100.0)),
        );
    }
}

fn report_freed(freed: &[[u64; 3]], publishes: usize) {
    println!("\n## who freed the {publishes} replaced maps of each contender");
    println!("| contender | the publisher | a reader | a bgdrop worker |");
    println!("|---|---:|---:|---:|");
    for who in Who::ALL {
        let [p, r, w] = freed[who.index()];
        println!("| {} | {p} | {r} | {w} |", who.name());
    }
}
