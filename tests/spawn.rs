//! Thread spawn failure degrades to inline drops, never a panic.

use bgdrop::{Bgdrop, BuildError};
use bgdrop_suite::DropLog;
use std::io;
use std::thread;

fn failing(_: bgdrop::WorkerThread) -> io::Result<()> {
    Err(io::Error::other("injected spawn failure"))
}

#[test]
fn build_reports_the_error_when_no_worker_starts() {
    let err = Bgdrop::builder()
        .threads(3)
        .spawn_handler(failing)
        .build()
        .unwrap_err();
    let BuildError::Spawn(io) = &err else {
        panic!("unexpected error {err:?}");
    };
    assert_eq!(io.to_string(), "injected spawn failure");
    assert!(err.to_string().contains("could not spawn"), "{err}");
    assert!(std::error::Error::source(&err).is_some());
}

#[test]
fn a_pool_without_workers_drops_everything_inline() {
    let pool = Bgdrop::builder().spawn_handler(failing).build_or_inline();
    let log = DropLog::new();
    for _ in 0..10 {
        pool.drop(log.witness());
    }
    // Dropped before `drop` returned, on this thread.
    assert_eq!(log.count(), 10);
    assert!(log.all_on(thread::current().id()));
    pool.flush();
    assert!(pool.flush_timeout(std::time::Duration::from_secs(1)));
    let stats = pool.stats();
    assert_eq!(stats.inline_no_worker, 10);
    assert_eq!(stats.workers, 0);
}

#[test]
fn a_pool_runs_with_the_workers_that_did_start() {
    let mut started = 0;
    let pool = Bgdrop::builder()
        .threads(4)
        .spawn_handler(move |worker| {
            started += 1;
            if started > 2 {
                return Err(io::Error::other("only two threads allowed"));
            }
            thread::Builder::new()
                .name(worker.name().to_owned())
                .spawn(move || worker.run())
                .map(drop)
        })
        .build()
        .unwrap();
    let log = DropLog::new();
    for _ in 0..100 {
        pool.drop(log.witness());
    }
    pool.flush();
    assert_eq!(log.count(), 100);
    assert!(log.all_on_workers());
    assert_eq!(pool.stats().workers, 2);
}

#[test]
fn an_oversized_stack_request_fails_cleanly() {
    // A real spawn failure: no machine grants a stack this large.
    match Bgdrop::builder().stack_size(usize::MAX / 2).build() {
        Err(err) => assert!(matches!(err, BuildError::Spawn(_))),
        Ok(pool) => {
            // Should the platform grant it after all, the pool must still work.
            pool.drop(vec![String::new(); 10]);
            pool.flush();
        }
    }
}
