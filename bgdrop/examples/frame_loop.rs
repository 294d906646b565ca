//! A paced frame loop that throws away a big structure every frame: what the frame
//! costs the thread that runs it when the structure is dropped inline, handed to
//! bgdrop, or handed to the seed crate (bgdrop 0.1.2).
//!
//! ```text
//! cargo run --release --example frame_loop [-- OUTPUT.svg]
//! ```
//!
//! Every 4 ms tick, the frame thread takes the next scene (a map of 20 000 entries,
//! 20 001 allocations) from a loader thread that builds scenes ahead, simulates a
//! little work on it (about a millisecond), and throws away the previous frame's
//! scene. The frame time is measured from the start of the frame's work to the end of
//! the drop; waiting for the loader and sleeping until the next tick are not counted.
//! The three contenders run in interleaved blocks so that noise from other processes
//! hits them alike.
//!
//! It prints a percentile table and writes an SVG picture of every frame's time
//! (default `target/frame_loop.svg`; pass another path as the only argument).
//! Set `FRAME_LOOP_FRAMES` to change the frames per contender (default 1500), and
//! `FRAME_LOOP_FOLLOW=1` to add a fourth contender, a pool built with
//! `Builder::follow_caller_cpu(true)`. Here the frame thread allocates nothing (the
//! loader builds the maps), so the coupling that option avoids is not the frame's
//! problem, and the default pool did better in the runs the README quotes.

#![allow(
    clippy::cast_precision_loss,
    reason = "frame times in ns and counts are far below 2^52"
)]
#![allow(
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss,
    reason = "pixel coordinates are small and non-negative"
)]

use std::collections::HashMap;
use std::fmt::Write as _;
use std::hint::black_box;
use std::sync::mpsc::{Receiver, sync_channel};
use std::time::{Duration, Instant};

/// The time between the starts of two frames.
const TICK: Duration = Duration::from_millis(4);
/// Entries of the map each frame builds and throws away.
const ENTRIES: u64 = 20_000;
/// Rounds of the particle update per frame (about a millisecond of work).
const STEPS: usize = 120;
/// Particles the frame updates.
const PARTICLES: usize = 8192;
/// Frames a contender runs in one block before the next contender's turn.
const BLOCK: usize = 100;

type Frame = HashMap<u64, Vec<u8>>;

/// How a frame gets rid of the previous frame's map.
#[derive(Clone, Copy)]
enum Contender {
    Inline,
    Bgdrop,
    Follow,
    Seed,
}

impl Contender {
    /// The contenders of this run: inline, bgdrop, bgdrop 0.1.2, and with
    /// `FRAME_LOOP_FOLLOW` set a pool built with `Builder::follow_caller_cpu`.
    fn all() -> Vec<Contender> {
        let mut all = vec![Contender::Inline, Contender::Bgdrop, Contender::Seed];
        if std::env::var_os("FRAME_LOOP_FOLLOW").is_some() {
            all.insert(2, Contender::Follow);
        }
        all
    }

    fn name(self) -> &'static str {
        match self {
            Contender::Inline => "inline drop",
            Contender::Bgdrop => "bgdrop 0.2",
            Contender::Follow => "bgdrop, follow",
            Contender::Seed => "bgdrop 0.1.2",
        }
    }

    fn colour(self) -> &'static str {
        match self {
            Contender::Inline => "#d62728",
            Contender::Bgdrop => "#2ca02c",
            Contender::Follow => "#9467bd",
            Contender::Seed => "#1f77b4",
        }
    }
}

struct Droppers {
    pool: bgdrop::Bgdrop,
    /// Built only when a run has the `Follow` contender.
    follow: Option<bgdrop::Bgdrop>,
    seed: bgdrop_seed::Bgdrop,
}

impl Droppers {
    fn discard(&self, who: Contender, frame: Frame) {
        match who {
            Contender::Inline => drop(frame),
            Contender::Bgdrop => self.pool.drop(frame),
            Contender::Follow => self
                .follow
                .as_ref()
                .expect("built for a run with this contender")
                .drop(frame),
            Contender::Seed => self.seed.drop(frame),
        }
    }
}

fn build_frame(seed: u64) -> Frame {
    (0..ENTRIES)
        .map(|i| {
            (
                i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ seed,
                vec![i as u8; 24],
            )
        })
        .collect()
}

/// The frame's own work: a particle update over a buffer that lives for the whole run
/// (no allocation), plus a read of the scene.
fn simulate(scene: &Frame, particles: &mut [[f32; 4]]) -> u64 {
    for _ in 0..STEPS {
        for p in particles.iter_mut() {
            p[0] += p[2] * 0.016;
            p[1] += p[3] * 0.016;
            p[3] -= 9.81 * 0.016;
            if p[1] < 0.0 {
                p[1] = -p[1];
                p[3] = -p[3] * 0.9;
            }
        }
    }
    scene.len() as u64 + u64::from(black_box(particles[0][1]).to_bits())
}

/// Runs `frames` paced frames, appending each frame's time in nanoseconds to `out`.
fn run_block(
    who: Contender,
    droppers: &Droppers,
    scenes: &Receiver<Frame>,
    particles: &mut [[f32; 4]],
    frames: usize,
    out: &mut Vec<u64>,
) {
    let mut previous = scenes.recv().expect("the loader runs until main returns");
    let mut next_tick = Instant::now() + TICK;
    for _ in 0..frames {
        let current = scenes.recv().expect("the loader runs until main returns");
        let start = Instant::now();
        black_box(simulate(&current, particles));
        droppers.discard(who, std::mem::replace(&mut previous, current));
        let elapsed = start.elapsed();
        out.push(elapsed.as_nanos() as u64);
        let now = Instant::now();
        if next_tick > now {
            std::thread::sleep(next_tick - now);
            next_tick += TICK;
        } else {
            // Overran the tick: start the next frame at once, re-anchor the clock.
            next_tick = now + TICK;
        }
    }
    droppers.discard(who, previous);
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

const PERCENTILES: [(&str, f64); 5] = [
    ("p50", 50.0),
    ("p90", 90.0),
    ("p99", 99.0),
    ("p99.9", 99.9),
    ("max", 100.0),
];

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

fn main() {
    let out_path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| default_svg_path().to_string_lossy().into_owned());
    let frames: usize = std::env::var("FRAME_LOOP_FRAMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1500);
    let droppers = Droppers {
        pool: bgdrop::Bgdrop::new(),
        follow: std::env::var_os("FRAME_LOOP_FOLLOW").map(|_| {
            bgdrop::Bgdrop::builder()
                .follow_caller_cpu(true)
                .build_or_inline()
        }),
        seed: bgdrop_seed::Bgdrop::new(),
    };
    println!(
        "paced frame loop: {} frames per contender, tick {} ms; each frame works ~1 ms and discards the previous frame's {ENTRIES}-entry map",
        frames,
        TICK.as_millis()
    );

    // The loader builds scenes ahead; it stops when the receiver is dropped.
    let (tx, scenes) = sync_channel::<Frame>(4);
    let loader = std::thread::Builder::new()
        .name("loader".into())
        .spawn(move || {
            let mut n = 0u64;
            while tx.send(build_frame(n)).is_ok() {
                n += 1;
            }
        })
        .expect("spawn the loader thread");
    let mut particles: Vec<[f32; 4]> = (0..PARTICLES)
        .map(|i| [i as f32, 10.0, 1.0, (i % 7) as f32])
        .collect();

    // Warm up the allocator and both pools, untimed.
    let mut scratch = Vec::new();
    let contenders = Contender::all();
    for &who in &contenders {
        run_block(who, &droppers, &scenes, &mut particles, 20, &mut scratch);
    }
    droppers.pool.flush();

    let mut times: Vec<Vec<u64>> = vec![Vec::with_capacity(frames); contenders.len()];
    let started = Instant::now();
    let mut round = 0;
    while times.iter().any(|t| t.len() < frames) {
        for k in 0..contenders.len() {
            // Rotate the order every round so no contender always follows another.
            let i = (k + round) % contenders.len();
            let n = BLOCK.min(frames - times[i].len());
            run_block(
                contenders[i],
                &droppers,
                &scenes,
                &mut particles,
                n,
                &mut times[i],
            );
        }
        round += 1;
    }
    drop(scenes);
    loader.join().expect("the loader does not panic");
    droppers.pool.flush();

    println!();
    print!("{:<14}", "caller frame");
    for (label, _) in PERCENTILES {
        print!("{label:>9}");
    }
    println!("{:>10}", "> 4 ms");
    for (who, t) in contenders.iter().zip(&times) {
        let mut sorted = t.clone();
        sorted.sort_unstable();
        print!("{:<14}", who.name());
        for (_, p) in PERCENTILES {
            print!("{:>7.3}ms", ms(percentile(&sorted, p)));
        }
        let over = t.iter().filter(|&&x| x > TICK.as_nanos() as u64).count();
        println!("{over:>10}");
    }
    let stats = droppers.pool.stats();
    println!(
        "\nbgdrop pool: {} values deferred, {} dropped inline because the queue was full",
        stats.deferred, stats.inline_full
    );
    if let Some(follow) = &droppers.follow {
        let stats = follow.stats();
        println!(
            "bgdrop, follow: {} values deferred, {} dropped by the frame while the previous one waited",
            stats.deferred, stats.inline_busy
        );
    }
    println!("measured in {:.1} s", started.elapsed().as_secs_f64());

    let svg = render_svg(&contenders, &times, frames);
    if let Some(dir) = std::path::Path::new(&out_path).parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    match std::fs::write(&out_path, svg) {
        Ok(()) => println!("wrote {out_path}"),
        Err(e) => eprintln!("could not write {out_path}: {e}"),
    }
}

/// `target/frame_loop.svg` in the workspace's target directory.
fn default_svg_path() -> std::path::PathBuf {
    // The example binary lives in `<target>/release/examples/`.
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.parent()?.to_path_buf()))
        .unwrap_or_else(|| std::path::PathBuf::from("target"))
        .join("frame_loop.svg")
}

/// One panel per contender: every frame's time, the tick, and the percentiles.
#[allow(clippy::too_many_lines, reason = "one straight-line drawing routine")]
fn render_svg(contenders: &[Contender], times: &[Vec<u64>], frames: usize) -> String {
    const W: f64 = 900.0;
    const PANEL_H: f64 = 150.0;
    const LEFT: f64 = 60.0;
    const RIGHT: f64 = 190.0;
    const TOP: f64 = 40.0;
    const GAP: f64 = 30.0;
    let plot_w = W - LEFT - RIGHT;
    // One scale for every panel: up to the tick or the worst p99.9, whichever is higher.
    let mut top_ns = TICK.as_nanos() as u64;
    for t in times {
        let mut s = t.clone();
        s.sort_unstable();
        top_ns = top_ns.max(percentile(&s, 99.9));
    }
    let scale_ms = (ms(top_ns) * 1.15).ceil();
    let height = TOP + (PANEL_H + GAP) * times.len() as f64 + 20.0;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{height}" viewBox="0 0 {W} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{LEFT}" y="22" font-size="15" font-weight="bold">Frame time, paced loop ({} ms tick; ~1 ms of work, then the previous {ENTRIES}-entry map is discarded)</text>"#,
        TICK.as_millis()
    );
    for (k, (who, t)) in contenders.iter().zip(times).enumerate() {
        let y0 = TOP + (PANEL_H + GAP) * k as f64;
        let y_of = |ns: u64| y0 + PANEL_H - (ms(ns) / scale_ms).min(1.0) * PANEL_H;
        let x_of = |i: usize| LEFT + plot_w * i as f64 / (frames.max(2) - 1) as f64;
        let _ = writeln!(
            svg,
            r##"<rect x="{LEFT}" y="{y0}" width="{plot_w}" height="{PANEL_H}" fill="#fafafa" stroke="#999"/>"##
        );
        // Y axis ticks.
        let step = if scale_ms <= 6.0 {
            1.0
        } else {
            (scale_ms / 5.0).ceil()
        };
        let mut v = 0.0;
        while v <= scale_ms {
            let y = y0 + PANEL_H - v / scale_ms * PANEL_H;
            let _ = writeln!(
                svg,
                r##"<line x1="{}" y1="{y:.1}" x2="{LEFT}" y2="{y:.1}" stroke="#999"/><text x="{}" y="{:.1}" text-anchor="end">{v} ms</text>"##,
                LEFT - 4.0,
                LEFT - 6.0,
                y + 4.0
            );
            v += step;
        }
        // The tick: a frame above this line misses its deadline.
        let ty = y_of(TICK.as_nanos() as u64);
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{ty:.1}" x2="{:.1}" y2="{ty:.1}" stroke="#444" stroke-dasharray="5,4"/>"##,
            LEFT + plot_w
        );
        let mut points = String::new();
        for (i, &ns) in t.iter().enumerate() {
            let _ = write!(points, "{:.1},{:.1} ", x_of(i), y_of(ns));
        }
        let _ = writeln!(
            svg,
            r#"<polyline fill="none" stroke="{}" stroke-width="1" points="{}"/>"#,
            who.colour(),
            points.trim_end()
        );
        // Frames off the scale: a mark at the top edge.
        for (i, &ns) in t.iter().enumerate() {
            if ms(ns) > scale_ms {
                let _ = writeln!(
                    svg,
                    r#"<path d="M{:.1},{:.1} l-4,7 h8 z" fill="{}"/>"#,
                    x_of(i),
                    y0,
                    who.colour()
                );
            }
        }
        let mut sorted = t.clone();
        sorted.sort_unstable();
        let tx = LEFT + plot_w + 12.0;
        let _ = writeln!(
            svg,
            r#"<text x="{tx}" y="{:.1}" font-weight="bold" fill="{}">{}</text>"#,
            y0 + 16.0,
            who.colour(),
            who.name()
        );
        for (j, (label, p)) in PERCENTILES.iter().enumerate() {
            let _ = writeln!(
                svg,
                r#"<text x="{tx}" y="{:.1}">{label}: {:.3} ms</text>"#,
                y0 + 36.0 + 18.0 * j as f64,
                ms(percentile(&sorted, *p))
            );
        }
    }
    let _ = writeln!(
        svg,
        r##"<text x="{LEFT}" y="{:.1}" fill="#555">frame (blocks of {BLOCK} frames per contender, interleaved); dashed: the {} ms tick; marks on the top edge: frames off the scale</text>"##,
        height - 8.0,
        TICK.as_millis()
    );
    svg.push_str("</svg>\n");
    svg
}
