//! The global pool, `defer`, `defer_if_costly` and `Deferred`.

use bgdrop::{Deferred, DropCost};
use bgdrop_suite::DropLog;
use std::collections::HashSet;
use std::sync::Arc;
use std::thread;

#[test]
fn global_is_one_pool() {
    assert!(std::ptr::eq(bgdrop::global(), bgdrop::global()));
    let other = thread::spawn(|| std::ptr::from_ref(bgdrop::global()) as usize)
        .join()
        .unwrap();
    assert_eq!(other, std::ptr::from_ref(bgdrop::global()) as usize);
    assert!(bgdrop::global().stats().workers >= 1);
}

#[test]
fn defer_drops_on_a_worker() {
    let log = DropLog::new();
    bgdrop::defer(log.witness());
    bgdrop::flush();
    assert_eq!(log.count(), 1);
    assert!(log.all_on_workers());
}

/// A value with a chosen drop cost.
struct Priced(usize, #[allow(dead_code)] bgdrop_suite::witness::Witness);

impl DropCost for Priced {
    fn drop_cost(&self) -> usize {
        self.0
    }
}

#[test]
fn defer_if_costly_keeps_cheap_values_on_the_caller() {
    let cheap = DropLog::new();
    let costly = DropLog::new();
    bgdrop::defer_if_costly(Priced(bgdrop::DEFAULT_THRESHOLD - 1, cheap.witness()));
    bgdrop::defer_if_costly(Priced(bgdrop::DEFAULT_THRESHOLD, costly.witness()));
    assert_eq!(cheap.count(), 1);
    assert!(cheap.all_on(thread::current().id()));
    bgdrop::flush();
    assert!(costly.all_on_workers());
}

#[test]
fn deferred_drops_its_value_on_a_worker() {
    let log = DropLog::new();
    let d = Deferred::new(log.witness());
    drop(d);
    let d: Deferred<_> = log.witness().into();
    let kept = d.into_inner();
    bgdrop::flush();
    assert_eq!(log.count(), 1);
    assert!(log.all_on_workers());
    drop(kept);
    assert_eq!(log.count(), 2);
}

#[test]
fn deferred_behaves_like_its_value() {
    let mut d = Deferred::new(vec![3, 1, 2]);
    d.sort_unstable();
    assert_eq!(*d, [1, 2, 3]);
    assert_eq!(d.clone(), d);
    assert!(Deferred::new(1) < Deferred::new(2));
    assert_eq!(format!("{:?}", Deferred::new(5)), "Deferred(5)");
    assert_eq!(Deferred::new("x").to_string(), "x");
    let set: HashSet<Deferred<u8>> = [Deferred::new(1), Deferred::new(1)].into_iter().collect();
    assert_eq!(set.len(), 1);
    let d: Deferred<Vec<u8>> = Deferred::default();
    assert!(d.is_empty());
    assert_eq!(Deferred::into_inner(Deferred::new(7)), 7);
}

#[test]
fn a_shared_deferred_value_is_freed_on_a_worker_whoever_drops_last() {
    let log = DropLog::new();
    let shared = Arc::new(Deferred::new(log.witness()));
    let readers: Vec<_> = (0..8)
        .map(|_| {
            let s = Arc::clone(&shared);
            thread::spawn(move || drop(s))
        })
        .collect();
    drop(shared);
    for r in readers {
        r.join().unwrap();
    }
    bgdrop::flush();
    assert_eq!(log.count(), 1);
    assert!(log.all_on_workers());
}
