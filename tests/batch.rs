//! `Batch`: values collected on the caller at the cost of a move, shipped in one
//! hand-off, freed on a worker, with no allocation per value once warm.

use bgdrop::{Batch, Bgdrop};
use bgdrop_suite::witness::Witness;
use bgdrop_suite::{Counter, DropLog};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Counts the allocations made by the current thread while counting is on.
struct CountingAlloc;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards every call to the system allocator unchanged; the bookkeeping uses
// const thread-locals without destructors, which never allocate.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.with(|a| a.set(a.get() + 1));
        }
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller upholds `GlobalAlloc::dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Allocations the current thread makes while running `f`.
fn allocations_in(f: impl FnOnce()) -> usize {
    ALLOCATIONS.with(|a| a.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.with(Cell::get)
}

#[test]
fn a_release_is_one_hand_off_and_everything_drops_on_a_worker() {
    let pool = Bgdrop::new();
    let log = DropLog::new();
    let mut batch = Batch::with_pool(&pool);
    for _ in 0..100 {
        batch.push(log.witness());
    }
    batch.push(42u64); // no destructor: not even stored
    assert_eq!(batch.len(), 100);
    assert_eq!(log.count(), 0);
    batch.release();
    assert!(batch.is_empty());
    pool.flush();
    assert_eq!(log.count(), 100);
    assert!(log.all_on_workers());
    assert_eq!(pool.stats().deferred, 1);
}

#[test]
fn dropping_a_batch_releases_it() {
    let pool = Bgdrop::new();
    let log = DropLog::new();
    let mut batch = Batch::with_pool(&pool);
    batch.push(log.witness());
    batch.push(vec![log.witness(), log.witness()]);
    drop(batch);
    pool.flush();
    assert_eq!(log.count(), 3);
    assert!(log.all_on_workers());
}

#[test]
fn once_warm_pushing_and_releasing_allocate_nothing_on_the_caller() {
    let pool = Bgdrop::new();
    let mut batch = Batch::with_pool(&pool);
    let frame = |batch: &mut Batch| {
        let values: Vec<Vec<u8>> = (0..256).map(|_| vec![0u8; 64]).collect();
        let mut values = values.into_iter();
        allocations_in(|| {
            for v in values.by_ref() {
                batch.push(v);
            }
            batch.release();
        })
    };
    // Warm up: the buffer grows, and buffers come back from the worker.
    for _ in 0..3 {
        frame(&mut batch);
        pool.flush();
    }
    let allocations = frame(&mut batch);
    assert_eq!(allocations, 0, "a warm frame allocated {allocations} times");
}

#[test]
fn cheap_values_are_dropped_at_once_with_push_if_costly() {
    let pool = Bgdrop::new();
    let mut batch = Batch::with_pool(&pool);
    batch.push_if_costly(vec![1u8, 2, 3]);
    batch.push_if_costly(vec![String::new(); 100]);
    assert_eq!(batch.len(), 1);
}

struct Bomb;

impl Drop for Bomb {
    fn drop(&mut self) {
        panic!("batch value panicked on purpose");
    }
}

#[test]
fn a_panicking_value_does_not_stop_the_rest_of_the_batch() {
    let pool = Bgdrop::new();
    let counter = Counter::new();
    let mut batch = Batch::with_pool(&pool);
    for _ in 0..10 {
        batch.push(counter.token());
        batch.push(Bomb);
    }
    batch.release();
    pool.flush();
    assert_eq!(counter.get(), 10);
    assert_eq!(pool.stats().panicked, 1);
    // The worker is still there.
    batch.push(counter.token());
    batch.release();
    pool.flush();
    assert_eq!(counter.get(), 11);
}

#[test]
fn no_value_is_lost_when_the_pool_handle_goes_first() {
    let pool = Bgdrop::new();
    let log = DropLog::new();
    let mut batch = Batch::with_pool(&pool);
    drop(pool); // the batch keeps the pool alive
    for _ in 0..10 {
        batch.push(log.witness());
    }
    batch.release();
    let last: Witness = log.witness();
    batch.push(last);
    drop(batch); // last handle: drains, then returns
    assert_eq!(log.count(), 11);
}
