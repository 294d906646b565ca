//! A child process for `tests/exit.rs`.
//!
//! Usage: `exit-child MODE FILE COUNT`. Installs the global pool, defers `COUNT` values
//! whose destructors append a line to `FILE`, holds the worker in the first destructor
//! until every value is queued (so they are all pending when the process ends), then
//! ends by `MODE`:
//!
//! - `return`: returns from `main`;
//! - `exit`: calls `std::process::exit(0)`;
//! - `panic`: panics in `main`;
//! - `stuck`: like `return`, but the first destructor never finishes; the exit timeout
//!   is 300 ms, so the process must still end, with every other value dropped.
//! - `late`: values are also deferred from a destructor run after `main` returned.
//! - `tls`: `main` also parks a value in a thread-local; its destructor, run by the C
//!   runtime after `main` returns, defers 10 more witnesses.
//! - `batch`: the values (but the first) go through a `bgdrop::Batch`, released in
//!   two halves; the second half is released by the batch's drop at the end of `main`.
//! - `slot`: the values (but the first) are published one after another into a
//!   `bgdrop::Slot`, with every seventh snapshot kept; the last value, and the kept
//!   snapshots, are let go at the end of `main`.
//! - `shared`: each value (but the first) becomes a `bgdrop::Shared` whose last
//!   reference is dropped by a second thread, joined before `main` returns.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

static OPEN: AtomicBool = AtomicBool::new(false);

/// Appends `line` to the witness file when dropped.
struct Witness {
    file: PathBuf,
    line: String,
    hold: bool,
    forever: bool,
}

impl Drop for Witness {
    fn drop(&mut self) {
        while self.hold && (self.forever || !OPEN.load(Ordering::SeqCst)) {
            std::thread::park_timeout(Duration::from_millis(1));
        }
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.file)
            .expect("open witness file");
        // One `write` per line: appends from several threads never interleave.
        f.write_all(format!("{}\n", self.line).as_bytes())
            .expect("write witness file");
    }
}

/// Defers more witnesses from its own destructor, which runs on a worker.
struct Cascade(PathBuf, usize);

impl Drop for Cascade {
    fn drop(&mut self) {
        for i in 0..self.1 {
            bgdrop::defer(Witness {
                file: self.0.clone(),
                line: format!("cascade {i}"),
                hold: false,
                forever: false,
            });
        }
    }
}

std::thread_local! {
    static PARKED: std::cell::RefCell<Option<Cascade>> = const { std::cell::RefCell::new(None) };
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().expect("mode");
    let file = PathBuf::from(args.next().expect("file"));
    let count: usize = args.next().expect("count").parse().expect("count");

    bgdrop::Bgdrop::builder()
        .capacity(count + 16)
        .exit_timeout(Duration::from_millis(if mode == "stuck" {
            300
        } else {
            30_000
        }))
        .install_global()
        .expect("install the global pool");

    bgdrop::defer(Witness {
        file: file.clone(),
        line: "first".into(),
        hold: true,
        forever: mode == "stuck",
    });
    let mut batch = bgdrop::Batch::new();
    let mut slot: Option<bgdrop::Slot<Witness>> = None;
    let mut kept = Vec::new();
    let (to_reader, reader_rx) = std::sync::mpsc::channel::<bgdrop::Shared<Witness>>();
    let reader = std::thread::spawn(move || {
        let held: Vec<_> = reader_rx.iter().collect();
        drop(held);
    });
    for i in 1..count {
        let value = Witness {
            file: file.clone(),
            line: format!("value {i}"),
            hold: false,
            forever: false,
        };
        if mode == "batch" {
            batch.push(value);
            if i == count / 2 {
                batch.release();
            }
        } else if mode == "slot" {
            match &slot {
                None => slot = Some(bgdrop::Slot::new(value)),
                Some(slot) => {
                    slot.publish(value);
                    if i % 7 == 0 {
                        kept.push(slot.load());
                    }
                }
            }
        } else if mode == "shared" {
            let shared = bgdrop::Shared::new(value);
            to_reader.send(shared.clone()).expect("reader alive");
            drop(shared);
        } else {
            bgdrop::defer(value);
        }
    }
    if mode == "late" {
        bgdrop::defer(Cascade(file.clone(), 10));
    }
    if mode == "tls" {
        PARKED.with(|p| *p.borrow_mut() = Some(Cascade(file.clone(), 10)));
    }
    drop(to_reader);
    reader.join().expect("the reader thread");
    let stats = bgdrop::global().stats();
    eprintln!("pending at exit: {}", stats.pending);
    eprintln!("stats at exit: {stats}");
    OPEN.store(true, Ordering::SeqCst);

    match mode.as_str() {
        "exit" => std::process::exit(0),
        "panic" => panic!("main panicked on purpose"),
        _ => {}
    }
}
