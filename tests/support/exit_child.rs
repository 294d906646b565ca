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
    let stats = bgdrop::global().stats();
    eprintln!("pending at exit: {}", stats.pending);
    OPEN.store(true, Ordering::SeqCst);

    match mode.as_str() {
        "exit" => std::process::exit(0),
        "panic" => panic!("main panicked on purpose"),
        _ => {}
    }
}
