//! `Slot<T>`: the latest value, published without freeing the old one on the
//! publisher or on the readers.

use bgdrop::{Bgdrop, Slot};
use bgdrop_suite::{Log, task_id, wait_until_asleep};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

fn pool(name: &str) -> Bgdrop {
    Bgdrop::builder()
        .thread_name(format!("bgdrop-{name}"))
        .build()
        .unwrap()
}

#[test]
fn versions_start_at_zero_and_grow_by_one() {
    let slot = Slot::new(String::from("v0"));
    assert_eq!(slot.version(), 0);
    assert_eq!(slot.load().version(), 0);
    assert_eq!(*slot.load(), "v0");
    assert_eq!(slot.publish("v1".into()), 1);
    assert_eq!(slot.publish("v2".into()), 2);
    let now = slot.load();
    assert_eq!((now.version(), now.as_str()), (2, "v2"));
    assert!(slot.load_newer(2).is_none());
    assert_eq!(slot.load_newer(1).unwrap().version(), 2);
}

#[test]
fn a_replaced_value_nobody_reads_is_freed_on_a_worker() {
    let pool = pool("slot-a");
    let log = Log::new();
    let slot = Slot::with_pool(log.witness("v0"), &pool);
    slot.publish(log.witness("v1"));
    pool.flush();
    log.assert_on_worker("v0");
    log.assert_alive("v1");
}

#[test]
fn a_replaced_value_lives_while_a_reader_holds_it_then_is_freed_on_a_worker() {
    let pool = pool("slot-b");
    let log = Log::new();
    let slot = Arc::new(Slot::with_pool(log.witness("v0"), &pool));
    let held = slot.load();
    slot.publish(log.witness("v1"));
    pool.flush();
    log.assert_alive("v0");
    let snapshot_copy = held.clone();
    drop(held);
    log.assert_alive("v0");
    let reader = thread::spawn(move || {
        drop(snapshot_copy); // the last reader
        thread::current().id()
    })
    .join()
    .unwrap();
    pool.flush();
    let dropped = log.dropped_once("v0");
    assert!(dropped.on_worker(), "{dropped:?}");
    assert_ne!(dropped.id, reader);
}

#[test]
fn wait_newer_blocks_until_a_newer_version_is_published() {
    let slot = Arc::new(Slot::new(0u32));
    let published = Arc::new(AtomicBool::new(false));
    let (task_tx, task_rx) = std::sync::mpsc::channel();
    let waiter = {
        let (slot, published) = (Arc::clone(&slot), Arc::clone(&published));
        thread::spawn(move || {
            task_tx.send(task_id()).unwrap();
            let snap = slot.wait_newer(0);
            assert!(published.load(Ordering::SeqCst), "returned before publish");
            (*snap, snap.version())
        })
    };
    wait_until_asleep(task_rx.recv().unwrap().as_deref());
    published.store(true, Ordering::SeqCst);
    slot.publish(7);
    assert_eq!(waiter.join().unwrap(), (7, 1));
}

#[test]
fn wait_newer_returns_at_once_when_something_newer_is_there() {
    let slot = Slot::new(0u32);
    slot.publish(1);
    slot.publish(2);
    let snap = slot.wait_newer(0);
    assert_eq!((*snap, snap.version()), (2, 2));
    assert_eq!(slot.changed(1).version(), 2);
}

#[test]
fn wait_newer_timeout_gives_up() {
    let slot = Slot::new(0u32);
    assert!(
        slot.wait_newer_timeout(0, Duration::from_millis(20))
            .is_none()
    );
    slot.publish(1);
    assert_eq!(
        slot.wait_newer_timeout(0, Duration::from_millis(20))
            .map(|s| s.version()),
        Some(1)
    );
}

#[test]
fn many_waiters_all_wake() {
    let slot = Arc::new(Slot::new(0u32));
    let (task_tx, task_rx) = std::sync::mpsc::channel();
    let waiters: Vec<_> = (0..6)
        .map(|_| {
            let (slot, task_tx) = (Arc::clone(&slot), task_tx.clone());
            thread::spawn(move || {
                task_tx.send(task_id()).unwrap();
                slot.wait_newer(0).version()
            })
        })
        .collect();
    for task in task_rx.iter().take(6) {
        wait_until_asleep(task.as_deref());
    }
    slot.publish(1);
    for w in waiters {
        assert_eq!(w.join().unwrap(), 1);
    }
}

/// Publishers and readers race; every value is freed exactly once, on a worker,
/// and each reader sees versions in order.
#[test]
fn racing_publishers_and_readers_lose_nothing() {
    const PUBLISHERS: usize = 2;
    const PER_PUBLISHER: usize = 300;
    let pool = pool("slot-race");
    let log = Log::new();
    let slot = Arc::new(Slot::with_pool(log.witness("initial"), &pool));
    let done = Arc::new(AtomicBool::new(false));
    let versions = Arc::new(Mutex::new(HashSet::new()));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (slot, done) = (Arc::clone(&slot), Arc::clone(&done));
            thread::spawn(move || {
                let mut last = 0;
                let mut held = Vec::new();
                while !done.load(Ordering::SeqCst) {
                    let snap = slot.load();
                    assert!(snap.version() >= last, "versions went backwards");
                    last = snap.version();
                    held.push(snap);
                    if held.len() > 5 {
                        held.remove(0);
                    }
                    if let Some(newer) = slot.wait_newer_timeout(last, Duration::from_micros(200)) {
                        assert!(newer.version() > last);
                    }
                }
                thread::current().id()
            })
        })
        .collect();
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            let (slot, log, versions) = (Arc::clone(&slot), log.clone(), Arc::clone(&versions));
            thread::spawn(move || {
                for i in 0..PER_PUBLISHER {
                    let v = slot.publish(log.witness(&format!("p{p} v{i}")));
                    assert!(
                        versions.lock().unwrap().insert(v),
                        "version {v} given twice"
                    );
                }
            })
        })
        .collect();
    for p in publishers {
        p.join().unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let reader_ids: Vec<_> = readers.into_iter().map(|r| r.join().unwrap()).collect();
    assert_eq!(slot.version(), (PUBLISHERS * PER_PUBLISHER) as u64);
    drop(slot); // the current value goes to the pool too
    drop(pool); // shutdown drains
    let mut names = vec!["initial".to_owned()];
    for p in 0..PUBLISHERS {
        names.extend((0..PER_PUBLISHER).map(|i| format!("p{p} v{i}")));
    }
    for name in names {
        let d = log.dropped_once(&name);
        assert!(d.on_worker(), "{name} freed on {d:?}");
        assert!(!reader_ids.contains(&d.id), "{name} freed on a reader");
    }
}

#[test]
fn dropping_the_slot_defers_the_current_value() {
    let pool = pool("slot-c");
    let log = Log::new();
    let slot = Slot::with_pool(log.witness("current"), &pool);
    drop(slot);
    drop(pool);
    log.assert_on_worker("current");
}

#[test]
fn a_snapshot_outlives_its_slot_and_pool_handle() {
    let log = Log::new();
    let pool = pool("slot-d");
    let slot = Slot::with_pool(log.witness("kept"), &pool);
    let snap = slot.load().into_shared();
    drop(slot);
    drop(pool);
    log.assert_alive("kept");
    thread::spawn(move || drop(snap)).join().unwrap();
    // The snapshot held the last pool handle: its drop shut the pool down, and the
    // shutdown drained the value on the worker.
    log.assert_on_worker("kept");
}

#[test]
fn the_slot_reports_its_current_value() {
    let slot = Slot::new(5u8);
    slot.publish(6);
    assert_eq!(
        format!("{:?}", slot.load()),
        "Snapshot { version: 1, value: 6 }"
    );
    assert!(format!("{slot:?}").contains("value: 6"));
    let d: Slot<Vec<u8>> = Slot::default();
    assert!(d.load().is_empty());
}

mod asynchronous {
    use super::*;
    use std::future::Future;
    use std::pin::pin;
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};

    struct Unpark(thread::Thread);

    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }

    /// The smallest executor: polls on this thread, parks between wake-ups.
    fn block_on<F: Future>(future: F) -> F::Output {
        let waker = Waker::from(Arc::new(Unpark(thread::current())));
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        loop {
            if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                return out;
            }
            thread::park();
        }
    }

    #[test]
    fn wait_newer_async_resolves_on_publish() {
        let slot = Arc::new(Slot::new(0u32));
        let publisher = {
            let slot = Arc::clone(&slot);
            let waiter = task_id();
            thread::spawn(move || {
                // Once this thread has parked in `block_on`, waiting for the value.
                wait_until_asleep(waiter.as_deref());
                slot.publish(9)
            })
        };
        let snap = block_on(slot.wait_newer_async(0));
        assert_eq!((*snap, snap.version()), (9, 1));
        publisher.join().unwrap();
        // Already newer: ready on the first poll.
        assert_eq!(block_on(slot.wait_newer_async(0)).version(), 1);
    }

    #[test]
    fn many_async_waits_in_a_row_see_every_wake() {
        let slot = Arc::new(Slot::new(0u64));
        let (task_tx, task_rx) = std::sync::mpsc::channel();
        let reader = {
            let slot = Arc::clone(&slot);
            thread::spawn(move || {
                task_tx.send(task_id()).unwrap();
                let mut seen = 0;
                while seen < 100 {
                    seen = block_on(slot.wait_newer_async(seen)).version();
                }
                seen
            })
        };
        let reader_task = task_rx.recv().unwrap();
        for i in 1..=100 {
            slot.publish(i);
            if i % 10 == 0 {
                // Let the reader catch up and park again before the next ten.
                wait_until_asleep(reader_task.as_deref());
            }
        }
        assert_eq!(reader.join().unwrap(), 100);
    }
}
