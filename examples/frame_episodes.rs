//! A diagnostic for the slow episodes of the paced frame loop (README, "Frame
//! loops"): frames on a 4 ms tick, each building a 20 000-entry map and handing it
//! to a bgdrop pool, with a timer thread that wakes every millisecond (as a program's
//! other threads do). For every frame it records the caller's build time and CPU, and
//! for every map the worker's time to drop it and its CPU, then summarises the frames
//! over 3 ms.
//!
//! ```sh
//! cargo run --release --example frame_episodes                      # glibc malloc
//! cargo run --release --example frame_episodes --features mimalloc  # mimalloc
//! ```
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
#[derive(Default)]
struct WorkerSide {
    drop_us: AtomicU64,
    cpu: AtomicI64,
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

fn main() {
    std::thread::spawn(|| {
        loop {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    let pool = bgdrop::Bgdrop::new();
    let mut frames = Vec::with_capacity(FRAMES as usize);
    let mut next = Instant::now() + TICK;
    for f in 0..FRAMES {
        let start = Instant::now();
        let map = build_map(f);
        black_box(&map);
        let build = start.elapsed();
        let worker = Arc::new(WorkerSide::default());
        let cpu = cpu();
        pool.drop(Timed(map, Arc::clone(&worker)));
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
    let allocator = if cfg!(feature = "mimalloc") {
        "mimalloc"
    } else {
        "system"
    };
    let (slow, normal): (Vec<&Frame>, Vec<&Frame>) =
        frames.iter().skip(1).partition(|f| f.total > SLOW);
    let describe = |name: &str, set: &[&Frame]| {
        let build = median(set.iter().map(|f| f.build.as_micros() as u64).collect());
        let dropped = median(
            set.iter()
                .map(|f| f.worker.drop_us.load(Ordering::Relaxed))
                .collect(),
        );
        let same_cpu = set
            .iter()
            .filter(|f| f.cpu >= 0 && f.cpu == f.worker.cpu.load(Ordering::Relaxed))
            .count();
        println!(
            "{name:>7}: {:4} frames; median build {build} µs, worker's drop of that frame's map {dropped} µs; caller and worker on one CPU in {same_cpu}",
            set.len()
        );
    };
    println!(
        "allocator {allocator}; {} frames on a {TICK:?} tick, slow = over {SLOW:?}",
        FRAMES - 1
    );
    describe("normal", &normal);
    describe("slow", &slow);
}
