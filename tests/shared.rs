//! `Shared<T>` (and `Arc<Deferred<T>>`): whichever thread drops the last reference,
//! the value is freed exactly once, on a worker.

use bgdrop::{Bgdrop, Shared};
use bgdrop_suite::Log;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

/// A small xorshift generator: the drop order differs from round to round.
fn shuffled(n: usize, mut seed: u64) -> Vec<u64> {
    (0..n)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % 300
        })
        .collect()
}

#[test]
fn eight_readers_in_random_order_never_free_the_value() {
    let pool = Bgdrop::builder()
        .thread_name("bgdrop-shared")
        .build()
        .unwrap();
    let log = Log::new();
    for round in 0..40u64 {
        let name = format!("value {round}");
        let value = Shared::with_pool(log.witness(&name), &pool);
        let start = Arc::new(Barrier::new(9));
        let delays = shuffled(8, round + 1);
        let readers: Vec<_> = delays
            .into_iter()
            .map(|micros| {
                let value = value.clone();
                let start = Arc::clone(&start);
                thread::spawn(move || {
                    start.wait();
                    thread::sleep(Duration::from_micros(micros));
                    let _read: &bgdrop_suite::Witness = &value;
                    drop(value);
                    thread::current().id()
                })
            })
            .collect();
        start.wait();
        if round % 2 == 0 {
            drop(value); // sometimes the creator goes first
        } else {
            thread::sleep(Duration::from_micros(150));
            drop(value);
        }
        let reader_ids: Vec<_> = readers.into_iter().map(|r| r.join().unwrap()).collect();
        pool.flush();
        let dropped = log.dropped_once(&name);
        assert!(dropped.on_worker(), "{name} freed on {dropped:?}");
        assert!(
            !reader_ids.contains(&dropped.id),
            "{name} freed on a reader"
        );
    }
}

#[test]
fn the_global_pool_frees_shared_values_made_with_new() {
    let log = Log::new();
    let value = Shared::new(log.witness("global"));
    let other = value.clone();
    thread::spawn(move || drop(other)).join().unwrap();
    log.assert_alive("global");
    drop(value);
    bgdrop::flush();
    log.assert_on_worker("global");
}

#[test]
fn a_shared_value_keeps_its_pool_alive_and_nothing_is_lost() {
    let log = Log::new();
    let pool = Bgdrop::builder()
        .thread_name("bgdrop-keep")
        .build()
        .unwrap();
    let value = Shared::with_pool(log.witness("kept"), &pool);
    let stats_pool = pool.clone();
    drop(pool); // the value holds the pool
    let reader = value.clone();
    drop(value);
    log.assert_alive("kept");
    thread::spawn(move || drop(reader)).join().unwrap();
    drop(stats_pool); // the last handle: shutdown drains the queue
    log.assert_on_worker("kept");
}

#[test]
fn taking_the_value_back_skips_the_pool() {
    let log = Log::new();
    let a = Shared::new(log.witness("back"));
    let b = a.clone();
    assert_eq!(Shared::strong_count(&a), 2);
    assert!(Shared::ptr_eq(&a, &b));
    let Err(mut a) = Shared::try_unwrap(a) else {
        panic!("`b` still shares the value")
    };
    assert!(Shared::get_mut(&mut a).is_none());
    drop(b);
    assert!(Shared::get_mut(&mut a).is_some());
    let witness = Shared::try_unwrap(a).unwrap_or_else(|_| panic!("only owner"));
    bgdrop::flush();
    log.assert_alive("back");
    drop(witness);
    log.assert_inline("back");
}

#[test]
fn exactly_one_of_racing_into_inner_calls_gets_the_value() {
    for _ in 0..50 {
        let value = Shared::new(vec![1u8; 32]);
        let start = Arc::new(Barrier::new(5));
        let racers: Vec<_> = (0..4)
            .map(|_| {
                let value = value.clone();
                let start = Arc::clone(&start);
                thread::spawn(move || {
                    start.wait();
                    Shared::into_inner(value).is_some()
                })
            })
            .collect();
        // Let go of ours first: only the racers hold the value when they race.
        drop(value);
        start.wait();
        let winners = racers
            .into_iter()
            .map(|r| r.join().unwrap())
            .filter(|&won| won)
            .count();
        assert_eq!(winners, 1);
    }
}

#[test]
fn shared_values_behave_like_the_values_they_hold() {
    let a = Shared::new(String::from("abc"));
    assert_eq!(a.len(), 3);
    assert_eq!(format!("{a:?}"), "Shared(\"abc\")");
    assert_eq!(a.to_string(), "abc");
    assert_eq!(a, Shared::new(String::from("abc")));
    assert!(Shared::new(1) < Shared::new(2));
    let d: Shared<Vec<u8>> = Shared::default();
    assert!(d.is_empty());
    let f: Shared<u8> = 7.into();
    assert_eq!(*f, 7);
}
