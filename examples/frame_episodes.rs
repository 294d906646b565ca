//! A diagnostic for the slow episodes of the paced frame loop (README, "Frame
//! loops"): frames on a 4 ms tick, each building a 20 000-entry map and handing it
//! to a background dropper, with a timer thread that wakes every millisecond (as a
//! program's other threads do). For every frame it records the caller's build time
//! and CPU, and for every map the worker's time to drop it and its CPU, then
//! summarises the frames over 3 ms.
//!
//! ```sh
//! cargo run --release --example frame_episodes                      # glibc malloc
//! cargo run --release --example frame_episodes --features mimalloc  # mimalloc
//! cargo run --release --example frame_episodes -- pool defer-drop idle follow
//! taskset -c 0 cargo run --release --example frame_episodes -- pool defer-drop idle
//! ```
//!
//! The droppers, one run each in the order given (default `pool`): `pool` (a
//! `Bgdrop::new()`, whose worker polls and is never woken by the caller), `idle` (a
//! pool built with `Builder::idle_priority(true)`), `follow` (a pool built with
//! `Builder::follow_caller_cpu(true)`: its worker frees each map on the loop's CPU
//! while the loop sleeps) and `defer-drop` (whose worker blocks on a channel and is
//! woken by each hand-off; the kernel often runs a thread woken that way on the
//! waker's CPU). Under `taskset -c 0` the loop and every worker share one CPU.
//!
//! On the 2-vCPU machines of the README, with glibc, hundreds of the 1 500 frames
//! take 3–7 ms in runs of consecutive frames; the caller and the worker are on
//! different CPUs then, and both slow down together (the map's build and its drop
//! each take several times their usual time): they contend in the allocator, not for
//! a CPU. With mimalloc, a handful of frames do. Linux only for the CPU numbers
//! (`/proc/thread-self/stat`); elsewhere they read -1.

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const FRAMES: u64 = 1500;
const TICK: Duration = Duration::from_millis(4);
const SLOW: Duration = Duration::from_millis(3);

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

/// The CPU the calling thread last ran on, or -1.
fn cpu() -> i64 {
    std::fs::read_to_string("/proc/thread-self/stat")
        .ok()
        .and_then(|s| {
            let fields = s.get(s.rfind(')')? + 2..)?;
            fields.split_whitespace().nth(36)?.parse().ok()
        })
        .unwrap_or(-1)
}

/// The worker's side of one frame: how long dropping its map took, and where.
struct WorkerSide {
    drop_us: AtomicU64,
    /// [`UNSET`] until the map is dropped.
    cpu: AtomicI64,
}

/// A [`WorkerSide`]'s CPU before its map is dropped.
const UNSET: i64 = i64::MIN;

impl Default for WorkerSide {
    fn default() -> Self {
        WorkerSide {
            drop_us: AtomicU64::new(0),
            cpu: AtomicI64::new(UNSET),
        }
    }
}

/// A map that records its own drop in the frame's [`WorkerSide`].
struct Timed(HashMap<u64, Vec<u8>>, Arc<WorkerSide>);

impl Drop for Timed {
    fn drop(&mut self) {
        let t = Instant::now();
        drop(std::mem::take(&mut self.0));
        self.1
            .drop_us
            .store(t.elapsed().as_micros() as u64, Ordering::Relaxed);
        self.1.cpu.store(cpu(), Ordering::Relaxed);
    }
}

struct Frame {
    total: Duration,
    build: Duration,
    cpu: i64,
    worker: Arc<WorkerSide>,
}

fn median(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

/// Who frees the frames' maps.
#[derive(Clone, Copy)]
enum Dropper {
    /// `Bgdrop::new()`: workers that poll, never woken by the caller.
    Pool,
    /// A pool built with `Builder::idle_priority(true)`.
    Idle,
    /// A pool built with `Builder::follow_caller_cpu(true)`.
    Follow,
    /// defer-drop: a worker blocked on a channel, woken by each hand-off.
    DeferDrop,
}

impl Dropper {
    fn parse(arg: &str) -> Option<Self> {
        match arg {
            "pool" => Some(Dropper::Pool),
            "idle" => Some(Dropper::Idle),
            "follow" => Some(Dropper::Follow),
            "defer-drop" => Some(Dropper::DeferDrop),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Dropper::Pool => "bgdrop pool",
            Dropper::Idle => "bgdrop pool, idle priority",
            Dropper::Follow => "bgdrop pool, follow_caller_cpu",
            Dropper::DeferDrop => "defer-drop",
        }
    }
}

fn main() {
    let droppers: Vec<Dropper> = std::env::args()
        .skip(1)
        .map(|a| {
            Dropper::parse(&a).unwrap_or_else(|| {
                eprintln!("unknown dropper {a:?}: pool, idle, follow or defer-drop");
                std::process::exit(2)
            })
        })
        .collect();
    std::thread::spawn(|| {
        loop {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    let allocator = if cfg!(feature = "mimalloc") {
        "mimalloc"
    } else {
        "system"
    };
    println!(
        "allocator {allocator}; {} frames on a {TICK:?} tick, slow = over {SLOW:?}",
        FRAMES - 1
    );
    for dropper in if droppers.is_empty() {
        vec![Dropper::Pool]
    } else {
        droppers
    } {
        let frames = run(dropper);
        report(dropper, &frames);
    }
}

/// [`FRAMES`] paced frames whose maps `dropper` frees.
fn run(dropper: Dropper) -> Vec<Frame> {
    let pool = match dropper {
        Dropper::Idle => bgdrop::Bgdrop::builder()
            .idle_priority(true)
            .build()
            .expect("spawn a worker"),
        Dropper::Follow => bgdrop::Bgdrop::builder()
            .follow_caller_cpu(true)
            .build()
            .expect("spawn a worker"),
        Dropper::Pool | Dropper::DeferDrop => bgdrop::Bgdrop::new(),
    };
    let mut frames = Vec::with_capacity(FRAMES as usize);
    let mut next = Instant::now() + TICK;
    for f in 0..FRAMES {
        let start = Instant::now();
        let map = build_map(f);
        black_box(&map);
        let build = start.elapsed();
        let worker = Arc::new(WorkerSide::default());
        let cpu = cpu();
        let timed = Timed(map, Arc::clone(&worker));
        match dropper {
            Dropper::Pool | Dropper::Idle | Dropper::Follow => pool.drop(timed),
            Dropper::DeferDrop => drop(defer_drop::DeferDrop::new(timed)),
        }
        frames.push(Frame {
            total: start.elapsed(),
            build,
            cpu,
            worker,
        });
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
            next += TICK;
        } else {
            next = now + TICK;
        }
    }
    pool.flush();
    // defer-drop's worker takes a moment more; its maps record themselves when freed.
    while frames
        .iter()
        .any(|f| f.worker.cpu.load(Ordering::Relaxed) == UNSET)
    {
        std::thread::sleep(Duration::from_millis(1));
    }
    frames
}

fn report(dropper: Dropper, frames: &[Frame]) {
    let (slow, normal): (Vec<&Frame>, Vec<&Frame>) =
        frames.iter().skip(1).partition(|f| f.total > SLOW);
    println!("{}:", dropper.name());
    let describe = |name: &str, set: &[&Frame]| {
        let build = median(set.iter().map(|f| f.build.as_micros() as u64).collect());
        let drop_us = median(
            set.iter()
                .map(|f| f.worker.drop_us.load(Ordering::Relaxed))
                .collect(),
        );
        let same_cpu = set
            .iter()
            .filter(|f| f.cpu >= 0 && f.cpu == f.worker.cpu.load(Ordering::Relaxed))
            .count();
        println!(
            "{name:>9}: {:4} frames; median build {build} µs, worker's drop of that frame's map {drop_us} µs; caller and worker on one CPU in {same_cpu}",
            set.len()
        );
    };
    describe("normal", &normal);
    describe("slow", &slow);
}
