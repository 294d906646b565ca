//! Tails, idle behaviour and wake-ups, every contender in one run (issue 4, items 2
//! and 5, and the idle pool). A `harness = false` bench: it reports percentiles of
//! individually timed caller operations, which criterion does not.
//!
//! ```text
//! cargo bench --bench tails                        # glibc malloc
//! cargo bench --bench tails --features mimalloc    # mimalloc
//! ```
//!
//! - `sparse`: one tree of height 10 handed off every 2 ms, so the worker goes idle
//!   in between; each hand-off timed on its own. `SPARSE_N` values per contender
//!   (default 500).
//! - `paced`: frames every 4 ms; each builds a 20 000-entry `HashMap<u64, Vec<u8>>`
//!   and gets rid of it; frame time = build + hand-off. `FRAMES` frames per
//!   contender (default 500), in interleaved blocks of 50; every contender's garbage
//!   is flushed before and after each of its blocks, so no block runs while another
//!   contender's backlog is being freed. Besides the shared contenders, a
//!   `bgdrop Batch` row: the map is `push`ed into a `bgdrop::Batch` on the bgdrop pool
//!   (one batch for the whole part, so its buffer is recycled) and `release()`d at the
//!   frame's quiescent point, after the frame time is taken and before sleeping to the
//!   next tick. Below each frame table: the mean frame, the caller time of the
//!   batch's releases, and the bgdrop pool's `Stats` per frame (values deferred,
//!   dropped inline as cheap, dropped inline because the queue was full) for the rows
//!   that use that pool. And a `bgdrop pool, idle priority` row: `Bgdrop::drop` on a
//!   second pool built with `Builder::idle_priority(true)`, whose worker runs only on
//!   a CPU nothing else wants, so it never preempts the caller; and a `bgdrop pool,
//!   follow_caller_cpu` row: a third pool built with `Builder::follow_caller_cpu(true)`,
//!   whose worker frees each map on the loop's CPU while the loop sleeps (a map
//!   handed over while the previous one still waits is dropped by the loop).
//!   Last, a line on the machine itself: one thread per CPU reading the clock in a
//!   loop for `STALL_MS` ms (default 2 000) just before the part and again just
//!   after, how often one went a millisecond or more without running (and whether
//!   the kernel ran another thread then or the virtual CPU itself stood still),
//!   and how many such stalls inline's frames would meet at that rate. A stall
//!   lands on whatever frame runs then, whoever drops its map, and a few of them
//!   are enough to set the p99.9 of 500 frames.
//! - `b2b`: the same frames back to back, no sleep. There is no quiet point, so the
//!   `bgdrop Batch` row releases at the end of each frame, inside the frame time.
//! - `scatter`: paced like `paced` (4 ms tick), but each frame builds the same map,
//!   drains it and gets rid of each of its 20 000 `Vec<u8>` values separately, then of
//!   the emptied map: 20 001 discards per frame; frame time = build + drain +
//!   discards. Contenders: inline, bgdrop-0.1.2, defer-drop, basedrop,
//!   `bgdrop pool drop_if_costly` (the threshold path: the 24-byte vecs stay inline,
//!   the emptied map's table is handed off), `bgdrop pool` (`Bgdrop::drop` forced on
//!   every value: its 1 024-slot queue overflows and the rest is dropped inline) and
//!   `bgdrop Batch` (each value pushed, released at the quiescent point as in
//!   `paced`), the idle-priority pool and the `follow_caller_cpu` pool (forced
//!   `drop`). bgdrop-0.1.2 and defer-drop box every value and send it on a channel,
//!   about 13 ms a frame here, so this part has its own, smaller frame count:
//!   `SCATTER_FRAMES` per contender (default 200).
//! - `idle`: a bgdrop pool's worker wake-ups per second (voluntary context switches
//!   of its thread, from `/proc`) while warm and once idle for over a second, and how
//!   long a value handed to an idle pool waits before it is dropped.
//!
//! - `streak`: back-to-back frames as in `b2b`, but each contender in one unbroken
//!   run of `STREAK_FRAMES` frames (default 1 500), inline and then the
//!   `follow_caller_cpu` pool: how that option does over a long stretch of a loop
//!   that never sleeps, which `b2b`'s blocks of 50 (separated by sleeps and
//!   flushes) do not show.
//!
//! `TAILS_ONLY=sparse,paced,b2b,streak,scatter,idle` selects parts (all by default).

#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    reason = "durations in ns and counts are far below 2^52"
)]

#[path = "common/mod.rs"]
mod common;

use bgdrop::{Batch, DropCost};
use common::{Droppers, Who, env_or, fmt_ns, percentile, tree};
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

fn main() {
    let only = std::env::var("TAILS_ONLY")
        .unwrap_or_else(|_| "sparse,paced,b2b,streak,scatter,idle".into());
    common::print_header("tails");
    let d = Droppers::new();
    if only.contains("sparse") {
        sparse(&d);
    }
    if only.contains("paced") {
        frames(&d, true);
    }
    if only.contains("b2b") {
        frames(&d, false);
    }
    if only.contains("streak") {
        streak(&d);
    }
    if only.contains("scatter") {
        scatter(&d);
    }
    if only.contains("idle") {
        idle();
    }
}

const PCTS: [(&str, f64); 5] = [
    ("p50", 50.0),
    ("p90", 90.0),
    ("p99", 99.0),
    ("p99.9", 99.9),
    ("max", 100.0),
];

/// One markdown table of `results`, with the p99.9 ratio to `baseline`'s.
fn table<K: Copy + PartialEq>(
    results: &mut [(K, Vec<u64>)],
    baseline: K,
    name: impl Fn(K) -> &'static str,
) {
    for (_, s) in results.iter_mut() {
        s.sort_unstable();
    }
    let base: Vec<u64> = results
        .iter()
        .find(|r| r.0 == baseline)
        .map(|r| PCTS.iter().map(|&(_, p)| percentile(&r.1, p)).collect())
        .unwrap_or_default();
    print!("| contender |");
    for (l, _) in PCTS {
        print!(" {l} |");
    }
    println!(" p99.9 vs {} |", name(baseline));
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (who, s) in results.iter() {
        print!("| {} |", name(*who));
        for (_, p) in PCTS {
            print!(" {} |", fmt_ns(percentile(s, p) as f64));
        }
        let r = percentile(s, 99.9) as f64 / base.get(3).copied().unwrap_or(1).max(1) as f64;
        println!(" {r:.2}× |");
    }
}

/// `n` trees of height 10, one every 2 ms, each given to `hand_off`; the caller time
/// of each call, in ns.
fn every_2_ms(n: usize, mut hand_off: impl FnMut(Box<common::Node>)) -> Vec<u64> {
    let mut samples = Vec::with_capacity(n);
    let mut next = Instant::now();
    for _ in 0..n {
        let value = tree(10);
        next += Duration::from_millis(2);
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let start = Instant::now();
        hand_off(value);
        samples.push(start.elapsed().as_nanos() as u64);
    }
    samples
}

/// Item 2: one value every 2 ms.
fn sparse(d: &Droppers) {
    let n = env_or("SPARSE_N", 500);
    // What `Instant::now()` twice costs, to read the numbers below against.
    let clock = common::clock_overhead();
    let mut results: Vec<(Who, Vec<u64>)> = Who::ALL
        .iter()
        .filter(|&&w| w != Who::Inline)
        .map(|&w| (w, Vec::with_capacity(n)))
        .collect();
    for (who, samples) in &mut results {
        d.settle(*who);
        *samples = every_2_ms(n, |value| d.discard(*who, value));
        d.settle(*who);
    }
    // The floor: the same loop, the value moved into a local, pre-reserved buffer
    // (no other thread involved): what a cold cache after the sleep costs by itself.
    let mut kept = Vec::with_capacity(n);
    let mut floor = every_2_ms(n, |value| kept.push(value));
    black_box(&kept);
    drop(kept);
    floor.sort_unstable();
    println!(
        "\n## sparse: one tree of height 10 every 2 ms, {n} values — caller time per hand-off (timer overhead p50 {})",
        fmt_ns(percentile(&clock, 50.0) as f64)
    );
    println!(
        "floor (the value moved into a local pre-reserved `Vec` after the same sleep): p50 {}, p99 {}, max {}",
        fmt_ns(percentile(&floor, 50.0) as f64),
        fmt_ns(percentile(&floor, 99.0) as f64),
        fmt_ns(percentile(&floor, 100.0) as f64)
    );
    table(&mut results, Who::Seed, Who::name);
}

fn build_map(seed: u64) -> HashMap<u64, Vec<u8>> {
    (0..20_000u64)
        .map(|i| {
            (
                i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ seed,
                vec![i as u8; 24],
            )
        })
        .collect()
}

/// A contender of the frame loops: the shared ones, and two that only make sense
/// there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FrameWho {
    /// Every discarded value goes through [`Droppers::discard`].
    Plain(Who),
    /// `Bgdrop::drop_if_costly` on the bgdrop pool: values under its threshold are
    /// dropped inline.
    IfCostly,
    /// Pushed into a [`Batch`] on the bgdrop pool, released at the frame's quiescent
    /// point.
    Batch,
    /// `Bgdrop::drop` on a pool whose worker runs at idle priority
    /// (`Builder::idle_priority(true)`): it never preempts the caller.
    IdlePool,
    /// `Bgdrop::drop` on a pool built with `Builder::follow_caller_cpu(true)`: its
    /// worker frees each value on the caller's CPU while that CPU is idle.
    FollowPool,
}

impl FrameWho {
    const INLINE: FrameWho = FrameWho::Plain(Who::Inline);

    fn name(self) -> &'static str {
        match self {
            FrameWho::Plain(who) => who.name(),
            FrameWho::IfCostly => "bgdrop pool drop_if_costly",
            FrameWho::Batch => "bgdrop Batch",
            FrameWho::IdlePool => "bgdrop pool, idle priority",
            FrameWho::FollowPool => "bgdrop pool, follow_caller_cpu",
        }
    }

    /// The bgdrop pool whose `Stats` count `self`'s values, if one does.
    fn stats_pool(self, d: &Droppers) -> Option<&bgdrop::Bgdrop> {
        match self {
            FrameWho::Plain(Who::Pool) | FrameWho::IfCostly | FrameWho::Batch => Some(&d.pool),
            FrameWho::FollowPool => Some(&d.follow_pool),
            FrameWho::Plain(_) | FrameWho::IdlePool => None,
        }
    }
}

/// Where a frame puts its garbage: `who`'s way of getting rid of it.
struct Sink<'a> {
    d: &'a Droppers,
    who: FrameWho,
    batch: &'a mut Batch,
}

impl Sink<'_> {
    #[inline]
    fn discard<T: DropCost + Send + 'static>(&mut self, value: T) {
        match self.who {
            FrameWho::Plain(who) => self.d.discard(who, value),
            FrameWho::IfCostly => self.d.pool.drop_if_costly(value),
            FrameWho::Batch => self.batch.push(value),
            FrameWho::IdlePool => self.d.idle_pool.drop(value),
            FrameWho::FollowPool => self.d.follow_pool.drop(value),
        }
    }
}

/// Waits until everything `who` was given so far has been dropped.
fn settle(d: &Droppers, who: FrameWho, batch: &mut Batch) {
    match who {
        FrameWho::Plain(who) => d.settle(who),
        FrameWho::IfCostly => d.pool.flush(),
        FrameWho::IdlePool => d.idle_pool.flush(),
        FrameWho::FollowPool => d.follow_pool.flush(),
        FrameWho::Batch => {
            batch.release();
            d.pool.flush();
        }
    }
}

/// What [`run_frames`] measured.
struct FrameRun {
    /// Frame times per contender, in ns.
    results: Vec<(FrameWho, Vec<u64>)>,
    /// Caller time of each `Batch::release`, in ns.
    releases: Vec<u64>,
    /// The bgdrop pool's `Stats` counters (deferred, inline because cheap, inline
    /// because the queue was full) summed over each pool contender's blocks.
    pool_stats: Vec<(FrameWho, [u64; 4])>,
    /// The whole run.
    total: Duration,
}

/// `n` frames of `frame` per contender, in interleaved blocks, paced on a 4 ms tick
/// or back to back. A frame's time covers `frame` only, and for [`FrameWho::Batch`]
/// back to back also the release; paced, the batch is released after the frame time
/// is taken, before sleeping to the next tick.
fn run_frames(
    d: &Droppers,
    contenders: &[FrameWho],
    n: usize,
    paced: bool,
    mut frame: impl FnMut(u64, &mut Sink<'_>),
) -> FrameRun {
    const TICK: Duration = Duration::from_millis(4);
    const BLOCK: usize = 50;
    let mut batch = Batch::with_pool(&d.pool);
    let mut results: Vec<(FrameWho, Vec<u64>)> = contenders
        .iter()
        .map(|&w| (w, Vec::with_capacity(n)))
        .collect();
    let mut pool_stats: Vec<(FrameWho, [u64; 4])> = contenders
        .iter()
        .filter(|w| w.stats_pool(d).is_some())
        .map(|&w| (w, [0; 4]))
        .collect();
    let mut releases = Vec::new();
    let started = Instant::now();
    let mut round = 0;
    while results.iter().any(|r| r.1.len() < n) {
        for k in 0..results.len() {
            let i = (k + round) % results.len();
            let who = results[i].0;
            let todo = BLOCK.min(n - results[i].1.len());
            settle(d, who, &mut batch);
            let counted = who.stats_pool(d);
            let before = counted.map(bgdrop::Bgdrop::stats);
            let mut next = Instant::now() + TICK;
            for f in 0..todo {
                let start = Instant::now();
                frame(
                    f as u64,
                    &mut Sink {
                        d,
                        who,
                        batch: &mut batch,
                    },
                );
                if !paced && who == FrameWho::Batch {
                    // No quiet point: release inside the frame.
                    let r = Instant::now();
                    batch.release();
                    releases.push(r.elapsed().as_nanos() as u64);
                }
                results[i].1.push(start.elapsed().as_nanos() as u64);
                if paced {
                    if who == FrameWho::Batch {
                        // The quiescent point: the frame is done, the caller is about
                        // to sleep until the next tick.
                        let r = Instant::now();
                        batch.release();
                        releases.push(r.elapsed().as_nanos() as u64);
                    }
                    let now = Instant::now();
                    if next > now {
                        std::thread::sleep(next - now);
                        next += TICK;
                    } else {
                        next = now + TICK;
                    }
                }
            }
            // Leave nothing of this block's garbage to be freed during the next one.
            settle(d, who, &mut batch);
            if let Some((_, sum)) = pool_stats.iter_mut().find(|(w, _)| *w == who) {
                let (Some(pool), Some(before)) = (counted, before) else {
                    unreachable!("a contender with a row has a pool")
                };
                let after = pool.stats();
                sum[0] += after.deferred - before.deferred;
                sum[1] += after.inline_cheap - before.inline_cheap;
                sum[2] += after.inline_full - before.inline_full;
                sum[3] += after.inline_busy - before.inline_busy;
            }
        }
        round += 1;
    }
    FrameRun {
        results,
        releases,
        pool_stats,
        total: started.elapsed(),
    }
}

/// The tables and lines below them for one frame-loop part.
fn report_frames(run: &mut FrameRun, n: usize, paced: bool) {
    table(&mut run.results, FrameWho::INLINE, FrameWho::name);
    let mut means: Vec<String> = Vec::new();
    for (who, s) in &run.results {
        let mean = s.iter().sum::<u64>() as f64 / s.len().max(1) as f64;
        means.push(format!("{} {}", who.name(), fmt_ns(mean)));
    }
    println!("mean frame: {}", means.join(", "));
    if paced {
        // The game-loop view: frames that missed the 4 ms tick.
        let over: Vec<String> = run
            .results
            .iter()
            .map(|(who, s)| {
                let missed = s.iter().filter(|&&t| t > 4_000_000).count();
                format!("{} {missed}", who.name())
            })
            .collect();
        println!("frames over the 4 ms budget: {}", over.join(", "));
    }
    if !run.releases.is_empty() {
        run.releases.sort_unstable();
        let r = &run.releases;
        println!(
            "bgdrop Batch release ({}): p50 {}, p99 {}, max {}",
            if paced {
                "at the quiescent point, not in the frame time"
            } else {
                "at the end of the frame, in the frame time"
            },
            fmt_ns(percentile(r, 50.0) as f64),
            fmt_ns(percentile(r, 99.0) as f64),
            fmt_ns(percentile(r, 100.0) as f64)
        );
    }
    if !run.pool_stats.is_empty() {
        let per_frame = |x: u64| x as f64 / n.max(1) as f64;
        let rows: Vec<String> = run
            .pool_stats
            .iter()
            .map(|(who, [deferred, cheap, full, busy])| {
                let busy = if *busy == 0 {
                    String::new()
                } else {
                    format!(" / {:.0} inline busy", per_frame(*busy))
                };
                format!(
                    "{} {:.0} deferred / {:.0} inline cheap / {:.0} inline full{busy}",
                    who.name(),
                    per_frame(*deferred),
                    per_frame(*cheap),
                    per_frame(*full)
                )
            })
            .collect();
        println!("bgdrop pool Stats per frame: {}", rows.join("; "));
    }
}

/// Item 5: frames that build and throw away a 20 000-entry map, paced or back to back.
fn frames(d: &Droppers, paced: bool) {
    let n = env_or("FRAMES", 500);
    let contenders: Vec<FrameWho> = Who::ALL
        .into_iter()
        .map(FrameWho::Plain)
        .chain([FrameWho::Batch, FrameWho::IdlePool, FrameWho::FollowPool])
        .collect();
    let before = paced.then(machine_stalls);
    let mut run = run_frames(d, &contenders, n, paced, |f, sink| {
        let map = build_map(f);
        black_box(&map);
        sink.discard(map);
    });
    let after = paced.then(machine_stalls);
    if paced {
        println!(
            "\n## paced: 4 ms tick, each frame builds and hands off a 20 000-entry map, {n} frames — frame time"
        );
    } else {
        println!(
            "\n## b2b: back-to-back frames, each builds and hands off a 20 000-entry map, {n} frames — frame time (whole run {})",
            fmt_ns(run.total.as_nanos() as f64)
        );
    }
    report_frames(&mut run, n, paced);
    if let (Some(before), Some(after)) = (before, after) {
        // How many stalls the inline contender's frames would meet at that rate.
        let busy: u64 = run
            .results
            .iter()
            .find(|r| r.0 == FrameWho::INLINE)
            .map_or(0, |r| r.1.iter().sum());
        let rate = f64::midpoint(before.per_cpu_second(), after.per_cpu_second());
        println!(
            "machine stalls, with no frame running (one thread per CPU reading the clock for {} just before this part and again just after): {}; {}. At that rate, the {:.2} s that inline's {n} frames ran would meet about {:.1} stalls of 1 ms or more",
            fmt_ns(before.spun.as_nanos() as f64),
            before.describe(),
            after.describe(),
            busy as f64 / 1e9,
            rate * busy as f64 / 1e9
        );
    }
}

/// What [`machine_stalls`] saw.
struct Stalls {
    /// How long each thread spun.
    spun: Duration,
    /// How many threads spun: one per CPU.
    threads: usize,
    /// Gaps of at least 1 ms between two consecutive clock reads, over all threads,
    /// by cause: `[the guest kernel ran something else on that CPU, the CPU itself
    /// did not run, unknown (no /proc)]`.
    over_1ms: [usize; 3],
    /// The longest gap.
    longest: Duration,
}

impl Stalls {
    /// Gaps of 1 ms or more per second of one CPU.
    fn per_cpu_second(&self) -> f64 {
        self.over_1ms.iter().sum::<usize>() as f64 / (self.threads as f64 * self.spun.as_secs_f64())
    }

    fn describe(&self) -> String {
        let [guest, host, unknown] = self.over_1ms;
        let causes = if unknown > 0 {
            String::new()
        } else {
            format!(
                " ({host} with the virtual CPU not running, {guest} while this machine's kernel ran another thread)"
            )
        };
        format!(
            "{:.1} gaps of 1 ms or more per CPU-second{causes}, the longest {}",
            self.per_cpu_second(),
            fmt_ns(self.longest.as_nanos() as f64)
        )
    }
}

/// How often this machine stops a thread that only reads the clock: one spinning
/// thread per CPU for `STALL_MS` (default 2 000) ms,
/// each recording the gaps of 1 ms or more between its consecutive clock reads. Any
/// frame running then would have lost that time too, whoever drops its map. Each
/// read also reads the thread's run-queue wait from `/proc/thread-self/schedstat`
/// (about 2 µs), which tells the two causes apart: the kernel running another
/// thread on that CPU (the wait grew by about the gap), or the host not running the
/// virtual CPU at all (it did not: the kernel never saw the thread wait).
fn machine_stalls() -> Stalls {
    let spun = Duration::from_millis(env_or("STALL_MS", 2000) as u64);
    let threads = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let spinners: Vec<_> = (0..threads)
        .map(|_| {
            std::thread::spawn(move || {
                let mut schedstat = RunDelay::open();
                let start = Instant::now();
                let mut last = start;
                let mut waited = schedstat.as_mut().and_then(RunDelay::read);
                let mut over = [0; 3];
                let mut longest = Duration::ZERO;
                while last - start < spun {
                    let now = Instant::now();
                    let now_waited = schedstat.as_mut().and_then(RunDelay::read);
                    let gap = now - last;
                    if gap >= Duration::from_millis(1) {
                        let cause = match waited.zip(now_waited) {
                            Some((a, b))
                                if Duration::from_nanos(b.saturating_sub(a)) >= gap / 2 =>
                            {
                                0
                            }
                            Some(_) => 1,
                            None => 2,
                        };
                        over[cause] += 1;
                    }
                    longest = longest.max(gap);
                    last = now;
                    waited = now_waited;
                }
                (over, longest)
            })
        })
        .collect();
    let mut stalls = Stalls {
        spun,
        threads,
        over_1ms: [0; 3],
        longest: Duration::ZERO,
    };
    for spinner in spinners {
        let (over, longest) = spinner.join().expect("a spinner panicked");
        for (sum, n) in stalls.over_1ms.iter_mut().zip(over) {
            *sum += n;
        }
        stalls.longest = stalls.longest.max(longest);
    }
    stalls
}

/// The calling thread's `/proc/thread-self/schedstat`, open for repeated reads.
struct RunDelay {
    file: std::fs::File,
    text: String,
}

impl RunDelay {
    fn open() -> Option<Self> {
        let file = std::fs::File::open("/proc/thread-self/schedstat").ok()?;
        Some(RunDelay {
            file,
            text: String::new(),
        })
    }

    /// The thread's time spent runnable but waiting for a CPU so far, in ns.
    fn read(&mut self) -> Option<u64> {
        use std::io::{Read, Seek};
        self.text.clear();
        self.file.rewind().ok()?;
        self.file.read_to_string(&mut self.text).ok()?;
        self.text.split_whitespace().nth(1)?.parse().ok()
    }
}

/// `n` back-to-back frames that build a map and give it to `discard`; each frame's
/// time, in ns.
fn frames_in_a_row(n: usize, mut discard: impl FnMut(HashMap<u64, Vec<u8>>)) -> Vec<u64> {
    (0..n as u64)
        .map(|f| {
            let start = Instant::now();
            let map = build_map(f);
            black_box(&map);
            discard(map);
            start.elapsed().as_nanos() as u64
        })
        .collect()
}

/// Back-to-back frames, one unbroken run per contender: inline, then the
/// `follow_caller_cpu` pool.
fn streak(d: &Droppers) {
    const FOLLOW: &str = "bgdrop pool, follow_caller_cpu";
    let n = env_or("STREAK_FRAMES", 1500);
    let pool = &d.follow_pool;
    pool.flush();
    let inline = frames_in_a_row(n, drop);
    let before = pool.stats();
    let follow = frames_in_a_row(n, |map| pool.drop(map));
    pool.flush();
    let after = pool.stats();
    println!(
        "\n## streak: back-to-back frames, each builds and hands off a 20 000-entry map, {n} frames in one run per contender — frame time"
    );
    let mut results = vec![("inline", inline), (FOLLOW, follow)];
    table(&mut results, "inline", |name| name);
    println!(
        "{FOLLOW}: {} deferred, {} dropped by the loop (inline busy)",
        after.deferred - before.deferred,
        after.inline_busy - before.inline_busy
    );
}

/// Paced frames that get rid of a map's 20 000 small values one by one.
fn scatter(d: &Droppers) {
    let n = env_or("SCATTER_FRAMES", 200);
    let contenders = [
        FrameWho::INLINE,
        FrameWho::Plain(Who::Seed),
        FrameWho::Plain(Who::DeferDrop),
        FrameWho::Plain(Who::Basedrop),
        FrameWho::IfCostly,
        FrameWho::Plain(Who::Pool),
        FrameWho::Batch,
        FrameWho::IdlePool,
        FrameWho::FollowPool,
    ];
    let mut run = run_frames(d, &contenders, n, true, |f, sink| {
        let mut map = build_map(f);
        black_box(&map);
        for (_, value) in map.drain() {
            sink.discard(value);
        }
        sink.discard(map);
    });
    println!(
        "\n## scatter: 4 ms tick, each frame builds a 20 000-entry map, drains it and discards each `Vec<u8>` and the emptied map (20 001 discards), {n} frames — frame time"
    );
    report_frames(&mut run, n, true);
}

/// The voluntary context switches of the thread named `name` in this process.
fn ctxt_switches(name: &str) -> Option<u64> {
    for entry in std::fs::read_dir("/proc/self/task").ok()? {
        let dir = entry.ok()?.path();
        let comm = std::fs::read_to_string(dir.join("comm")).ok()?;
        if comm.trim() == name {
            let status = std::fs::read_to_string(dir.join("status")).ok()?;
            return status
                .lines()
                .find(|l| l.starts_with("voluntary_ctxt_switches"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok());
        }
    }
    None
}

fn wakeups_over(name: &str, window: Duration) -> f64 {
    let a = ctxt_switches(name).unwrap_or(0);
    std::thread::sleep(window);
    let b = ctxt_switches(name).unwrap_or(0);
    (b - a) as f64 / window.as_secs_f64()
}

struct Stamp(Arc<Mutex<Option<Instant>>>);

impl Drop for Stamp {
    fn drop(&mut self) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Instant::now());
    }
}

/// The idle pool: wake-ups per second, and how long a value waits when idle.
fn idle() {
    let pool = bgdrop::Bgdrop::builder()
        .thread_name("idle-probe")
        .build()
        .expect("spawn a worker");
    let name = "idle-probe-0";
    pool.drop(vec![String::new(); 100]);
    pool.flush();
    let warm = wakeups_over(name, Duration::from_millis(900));
    std::thread::sleep(Duration::from_millis(300));
    let cold = wakeups_over(name, Duration::from_secs(2));
    // Latency from hand-off to drop, warm (10 ms after the previous value) and idle
    // (1.5 s after it, plus up to 50 ms of jitter so that the hand-off does not fall
    // at the same point of the worker's 50 ms sleep every time). `flush` would wake
    // the worker, so the caller polls instead. Also the caller's time for the
    // hand-off itself, which wakes a cold worker.
    let mut jitter = 0x2545_F491_4F6C_DD1Du64;
    let mut lat_unflushed = |gap: Duration, spread: bool, count: usize| -> (Vec<u64>, Vec<u64>) {
        let mut freed = Vec::new();
        let mut caller = Vec::new();
        for _ in 0..count {
            jitter ^= jitter << 13;
            jitter ^= jitter >> 7;
            jitter ^= jitter << 17;
            let extra = if spread {
                Duration::from_micros(jitter % 50_000)
            } else {
                Duration::ZERO
            };
            std::thread::sleep(gap + extra);
            let cell = Arc::new(Mutex::new(None));
            let t = Instant::now();
            pool.drop(Stamp(Arc::clone(&cell)));
            caller.push(t.elapsed().as_nanos() as u64);
            let dropped = loop {
                if let Some(at) = *cell
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                {
                    break at;
                }
                std::thread::sleep(Duration::from_micros(200));
            };
            freed.push(dropped.duration_since(t).as_nanos() as u64);
        }
        freed.sort_unstable();
        caller.sort_unstable();
        (freed, caller)
    };
    let (warm_lat, warm_caller) = lat_unflushed(Duration::from_millis(10), false, 50);
    let (cold_lat, cold_caller) = lat_unflushed(
        Duration::from_millis(1500),
        true,
        env_or("IDLE_COLD_SAMPLES", 8),
    );
    println!("\n## idle: bgdrop pool worker wake-ups and idle latency");
    println!(
        "| state | worker wake-ups per second | hand-off → dropped p50 | max | caller's hand-off p50 | max |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    let row = |state: &str, rate: String, freed: &[u64], caller: &[u64]| {
        let p = |v: &[u64], q: f64| fmt_ns(percentile(v, q) as f64);
        println!(
            "| {state} | {rate} | {} | {} | {} | {} |",
            p(freed, 50.0),
            p(freed, 100.0),
            p(caller, 50.0),
            p(caller, 100.0)
        );
    };
    row(
        "warm (first second after a value)",
        format!("{warm:.0}"),
        &warm_lat,
        &warm_caller,
    );
    row("idle > 1 s", format!("{cold:.1}"), &cold_lat, &cold_caller);
    // The peers, for comparison: basedrop's collector thread polls every 1 ms.
    let b = common::BasedropThread::start();
    std::thread::sleep(Duration::from_millis(100));
    let basedrop_idle = wakeups_over("basedrop-collec", Duration::from_secs(1));
    drop(b);
    println!(
        "peers idle: bgdrop-0.1.2 and defer-drop block in a channel receive (0 wake-ups; a hand-off pays the futex wake); basedrop's collector thread with a 1 ms sleep: {basedrop_idle:.0}/s"
    );
}
