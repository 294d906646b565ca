//! The crate's only `unsafe` code: a type-erased value stored inline in the queue slot,
//! the lock of the callers' stages, the registration of the process-exit hook, and
//! the scheduler calls for `Builder::idle_priority` and
//! `Builder::follow_caller_cpu`.
//!
//! Erasing the value's type inline, rather than as a `Box<dyn Send>`, saves the
//! caller one heap allocation per deferred value (and the worker one free of memory
//! the caller allocated, which glibc makes expensive across threads). The benches in
//! `benches/` compare the two; the README quotes the numbers.

use std::mem::MaybeUninit;

/// Machine words of inline storage: enough for a `Vec`, a `String`, a `BTreeMap`, a
/// `Box` or an `Arc` (up to 24 bytes on 64-bit targets), which then travel without a
/// box. With the drop function an `Erased` is 32 bytes, two to a cache line: the
/// hand-off writes half as many lines as with room for a `HashMap` (48 bytes, 56 with
/// the function, whose slots straddled lines), and that took handing off 1 000 trees
/// from 18.7–21.0 ns to 12.4–16.7 ns per tree (`bulk.glibc.s5-ab-erased.txt`). A
/// `HashMap` with the default hasher is boxed: one small allocation per map.
pub(crate) const INLINE_WORDS: usize = 3;

type Storage = MaybeUninit<[usize; INLINE_WORDS]>;

/// A value of some `Send + 'static` type whose destructor has not run yet.
///
/// Dropping an `Erased` drops the value it holds, exactly once. Aligned to its size,
/// so that no slot of a stage's buffer straddles two cache lines.
#[repr(align(32))]
pub(crate) struct Erased {
    storage: Storage,
    /// Drops the value held in `storage`. Invariant: `storage` holds a live value of
    /// the type this function was instantiated for, placed there by [`Erased::new`],
    /// [`push_erased`] or [`put_erased`] (or nothing, for `drop_nothing`).
    // SAFETY: only those three set it, to `drop_inline::<T>` or `drop_boxed::<T>` for
    // the very `T` (or `Box<T>`) they wrote into `storage`; `put_erased` sets
    // `drop_nothing` on an empty storage first, then overwrites both.
    drop_value: unsafe fn(*mut Storage),
}

// SAFETY: an `Erased` is only ever built from a `T: Send` (by `Erased::new`,
// `push_erased` or `put_erased`), and it
// exposes no access to the value other than dropping it, so moving it to another
// thread moves a `Send` value there.
unsafe impl Send for Erased {}

const fn fits_inline<T>() -> bool {
    size_of::<T>() <= size_of::<Storage>() && align_of::<T>() <= align_of::<Storage>()
}

impl Erased {
    /// Takes ownership of `value`, inline when it fits in [`INLINE_WORDS`] words and is
    /// at most word-aligned, and in a `Box` otherwise.
    #[inline]
    pub(crate) fn new<T: Send + 'static>(value: T) -> Self {
        let mut storage = Storage::uninit();
        if fits_inline::<T>() {
            // SAFETY: (1) `fits_inline` checked that a `T` fits in `storage` and that
            // `storage`'s alignment satisfies `T`'s, so the write is in bounds and
            // aligned; (2) `storage` is fresh, so nothing is overwritten.
            unsafe { storage.as_mut_ptr().cast::<T>().write(value) };
            Erased {
                storage,
                drop_value: drop_inline::<T>,
            }
        } else {
            let boxed = Box::new(value);
            const { assert!(fits_inline::<Box<()>>()) };
            // SAFETY: a `Box<T>` of a sized `T` is one pointer, which fits in and is
            // aligned for `storage` (asserted at compile time just above).
            unsafe { storage.as_mut_ptr().cast::<Box<T>>().write(boxed) };
            Erased {
                storage,
                drop_value: drop_boxed::<T>,
            }
        }
    }
}

/// Appends `value` to `values` as an [`Erased`], written straight into the vector's
/// buffer. Building the `Erased` first and pushing it would copy its 32 bytes through
/// the stack, and on the hand-off's path those copies cost more than the rest of it
/// (the partly initialised storage defeats store-to-load forwarding).
#[inline]
pub(crate) fn push_erased<T: Send + 'static>(values: &mut Vec<Erased>, value: T) {
    values.reserve(1);
    let len = values.len();
    // SAFETY: after `reserve(1)` the buffer has room for `len + 1` elements, so
    // `slot` points to allocated, properly aligned memory for an `Erased` that no
    // element occupies.
    let slot = unsafe { values.as_mut_ptr().add(len) };
    let storage = Storage::uninit();
    if fits_inline::<T>() {
        // SAFETY: `slot` is valid for writes (above). Each field is written through
        // a raw pointer, without reading or dropping what was there: first the
        // storage (untouched), then the value into it (`fits_inline` checked size and
        // alignment, as in `Erased::new`), then the drop function that matches it.
        unsafe {
            (&raw mut (*slot).storage).write(storage);
            (&raw mut (*slot).storage).cast::<T>().write(value);
            (&raw mut (*slot).drop_value).write(drop_inline::<T>);
        }
    } else {
        // SAFETY: `slot` is valid for writes (above); `Erased::new` moves the boxed
        // value in whole.
        unsafe { slot.write(Erased::new(value)) };
    }
    // SAFETY: the element at `len` is now fully initialised (both fields written),
    // and `len + 1 <= capacity`.
    unsafe { values.set_len(len + 1) };
}

/// Puts `value` into the empty `slot` as an [`Erased`], written in place, for the
/// same reason as [`push_erased`]: an `Erased` built on the stack is 32-byte aligned,
/// and one such temporary makes the whole inlined hand-off realign its stack frame.
#[inline]
pub(crate) fn put_erased<T: Send + 'static>(slot: &mut Option<Erased>, value: T) {
    debug_assert!(slot.is_none(), "a value would be dropped unseen");
    // A placeholder that holds nothing (`storage` uninitialised, its drop function a
    // no-op), then filled in place.
    let erased: *mut Erased = slot.insert(Erased {
        storage: Storage::uninit(),
        drop_value: drop_nothing,
    });
    if fits_inline::<T>() {
        // SAFETY: `erased` points to the `Erased` just placed in `slot`, valid for
        // writes and aligned. The value is written into its storage (`fits_inline`
        // checked size and alignment, as in `Erased::new`), then the drop function
        // that matches it; nothing is read or dropped in between, and the
        // placeholder held nothing to drop.
        unsafe {
            (&raw mut (*erased).storage).cast::<T>().write(value);
            (&raw mut (*erased).drop_value).write(drop_inline::<T>);
        }
    } else {
        let boxed = Box::new(value);
        // SAFETY: as above, with the value boxed: a `Box<T>` fits in and is aligned
        // for `storage` (asserted in `Erased::new`).
        unsafe {
            (&raw mut (*erased).storage).cast::<Box<T>>().write(boxed);
            (&raw mut (*erased).drop_value).write(drop_boxed::<T>);
        }
    }
}

impl Drop for Erased {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: by the invariant of `drop_value`, `storage` holds the live value it
        // was built for; `Drop::drop` runs once, so the value is dropped exactly once
        // and `storage` is not touched again.
        unsafe { (self.drop_value)(&raw mut self.storage) }
    }
}

/// The drop function of a placeholder that holds no value ([`put_erased`]).
///
/// # Safety
/// None needed: it does nothing.
// SAFETY: `unsafe` only to match `Erased::drop_value`'s type; it reads nothing.
unsafe fn drop_nothing(_storage: *mut Storage) {}

/// # Safety
/// `storage` must hold a live `T` written by [`Erased::new`]; it is dead afterwards.
// SAFETY: called only through `Erased::drop_value`, whose invariant is this contract.
unsafe fn drop_inline<T>(storage: *mut Storage) {
    // SAFETY: the caller guarantees a live, aligned `T` at `storage`.
    unsafe { storage.cast::<T>().drop_in_place() }
}

/// # Safety
/// `storage` must hold a live `Box<T>` written by [`Erased::new`]; it is dead afterwards.
// SAFETY: called only through `Erased::drop_value`, whose invariant is this contract.
unsafe fn drop_boxed<T>(storage: *mut Storage) {
    // SAFETY: the caller guarantees a live `Box<T>` at `storage`; reading it out
    // moves ownership here, and the caller never uses `storage` again.
    let boxed = unsafe { storage.cast::<Box<T>>().read() };
    drop(boxed);
}

/// A lock for data that one thread takes all the time and others take rarely and
/// briefly: a thread's stage, which only a worker's sweep also takes (see
/// `crate::stage`), and a worker's hand, which only idle workers and the exit drain
/// also take.
///
/// Taking it is one compare-and-swap and releasing it one plain store, against two
/// read-modify-writes and two panic-count checks for `std::sync::Mutex`; on the
/// hand-off's path that is about a third of the instructions. Nothing is ever run
/// under it but moves of values and buffers, so a holder never blocks and there is no
/// poisoning. A thread that finds it taken spins, yielding its core after a few
/// rounds (the holder may be waiting for that core).
///
/// Under loom it is the shim's `Mutex`, so that the models explore every interleaving
/// of the protocols built on it.
#[cfg(not(loom))]
pub(crate) struct SpinLock<T> {
    locked: std::sync::atomic::AtomicBool,
    value: std::cell::UnsafeCell<T>,
}

// SAFETY: the lock hands out access to `value` to one thread at a time (the
// guard's existence proves the flag was taken with `Acquire` and is released with
// `Release`), so sharing the lock between threads only ever moves a `T` between
// them: `T: Send` is enough, as for `std::sync::Mutex`.
#[cfg(not(loom))]
unsafe impl<T: Send> Sync for SpinLock<T> {}

#[cfg(not(loom))]
impl<T> SpinLock<T> {
    pub(crate) fn new(value: T) -> Self {
        SpinLock {
            locked: std::sync::atomic::AtomicBool::new(false),
            value: std::cell::UnsafeCell::new(value),
        }
    }

    /// Takes the lock, spinning (then yielding) while another thread holds it.
    #[inline]
    pub(crate) fn lock(&self) -> SpinGuard<'_, T> {
        use std::sync::atomic::Ordering::{Acquire, Relaxed};
        if self
            .locked
            .compare_exchange(false, true, Acquire, Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
        SpinGuard { lock: self }
    }

    #[cold]
    #[inline(never)]
    fn lock_contended(&self) {
        use std::sync::atomic::Ordering::{Acquire, Relaxed};
        let mut spins = 0u32;
        loop {
            while self.locked.load(Relaxed) {
                spins += 1;
                if spins < 64 {
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
            if self
                .locked
                .compare_exchange_weak(false, true, Acquire, Relaxed)
                .is_ok()
            {
                return;
            }
        }
    }
}

/// Access to a [`SpinLock`]'s value; releases the lock when dropped.
#[cfg(not(loom))]
pub(crate) struct SpinGuard<'a, T> {
    lock: &'a SpinLock<T>,
}

#[cfg(not(loom))]
impl<T> std::ops::Deref for SpinGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while this thread holds the lock (taken with
        // `Acquire` in `lock`, released with `Release` in the guard's drop), so no
        // other thread accesses `value` meanwhile, and every earlier holder's writes
        // are visible. The reference cannot outlive the guard.
        unsafe { &*self.lock.value.get() }
    }
}

#[cfg(not(loom))]
impl<T> std::ops::DerefMut for SpinGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for `deref`; `&mut self` makes this the only reference the
        // guard hands out at a time.
        unsafe { &mut *self.lock.value.get() }
    }
}

#[cfg(not(loom))]
impl<T> Drop for SpinGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock
            .locked
            .store(false, std::sync::atomic::Ordering::Release);
    }
}

/// Under loom: the shim's `Mutex`, with the same interface.
#[cfg(loom)]
pub(crate) struct SpinLock<T>(crate::sync::Mutex<T>);

#[cfg(loom)]
pub(crate) type SpinGuard<'a, T> = crate::sync::MutexGuard<'a, T>;

#[cfg(loom)]
impl<T> SpinLock<T> {
    pub(crate) fn new(value: T) -> Self {
        SpinLock(crate::sync::Mutex::new(value))
    }

    pub(crate) fn lock(&self) -> SpinGuard<'_, T> {
        crate::sync::lock(&self.0)
    }
}

/// Runs `hook` when the process exits normally (return from `main`, or
/// `std::process::exit`), through the C runtime's `atexit`. Returns whether the hook
/// was registered.
#[cfg(any(unix, windows))]
pub(crate) fn at_process_exit(hook: extern "C" fn()) -> bool {
    // SAFETY: the declaration matches C's `int atexit(void (*)(void))`.
    unsafe extern "C" {
        fn atexit(hook: extern "C" fn()) -> std::ffi::c_int;
    }
    // SAFETY: `atexit` is the C standard library's, with this exact signature on every
    // unix and on Windows; `hook` is a plain `extern "C" fn` with no captured state,
    // valid for the life of the process. `atexit` itself is thread-safe.
    unsafe { atexit(hook) == 0 }
}

#[cfg(not(any(unix, windows)))]
pub(crate) fn at_process_exit(_hook: extern "C" fn()) -> bool {
    false
}

/// Moves the calling thread to Linux's `SCHED_IDLE` class, which runs only when a core
/// would otherwise be idle, falling back to the lowest nice level (19). Returns
/// whether either took effect.
#[cfg(target_os = "linux")]
pub(crate) fn lower_current_thread_priority() -> bool {
    use std::ffi::c_int;
    #[repr(C)]
    struct SchedParam {
        sched_priority: c_int,
    }
    const SCHED_IDLE: c_int = 5;
    const PRIO_PROCESS: c_int = 0;
    // SAFETY: the declarations match glibc's and musl's `int sched_setscheduler(pid_t,
    // int, const struct sched_param *)` and `int setpriority(int, id_t, int)`, with
    // `pid_t` = `int` and `id_t` = `unsigned int` on Linux.
    unsafe extern "C" {
        fn sched_setscheduler(pid: c_int, policy: c_int, param: *const SchedParam) -> c_int;
        fn setpriority(which: c_int, who: std::ffi::c_uint, prio: c_int) -> c_int;
    }
    let param = SchedParam { sched_priority: 0 };
    // SAFETY: both are glibc/musl functions with these C signatures on Linux. `pid`
    // and `who` 0 name the calling thread (on Linux, scheduling attributes are per
    // thread); `param` points to a live, initialised `sched_param`, read only during
    // the call. Neither function retains a pointer.
    unsafe {
        sched_setscheduler(0, SCHED_IDLE, &raw const param) == 0
            || setpriority(PRIO_PROCESS, 0, 19) == 0
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn lower_current_thread_priority() -> bool {
    false
}

/// A set of CPUs, as Linux's `cpu_set_t` (room for 1 024 CPUs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(transparent)]
pub(crate) struct CpuSet([u64; 16]);

impl CpuSet {
    /// The set holding `cpu` alone (empty if `cpu` is out of range).
    pub(crate) fn only(cpu: u32) -> Self {
        let mut set = CpuSet([0; 16]);
        if let Some(word) = set.0.get_mut(cpu as usize / 64) {
            *word = 1 << (cpu % 64);
        }
        set
    }

    pub(crate) fn contains(&self, cpu: u32) -> bool {
        self.0
            .get(cpu as usize / 64)
            .is_some_and(|word| word & (1 << (cpu % 64)) != 0)
    }
}

/// The CPU the calling thread is running on, or `None` where that is unknown (not
/// Linux, or the call failed).
#[cfg(target_os = "linux")]
#[inline]
pub(crate) fn current_cpu() -> Option<u32> {
    // SAFETY: the declaration matches glibc's and musl's `int sched_getcpu(void)`.
    unsafe extern "C" {
        fn sched_getcpu() -> std::ffi::c_int;
    }
    // SAFETY: `sched_getcpu` takes no arguments and touches no memory of ours; it
    // returns a CPU number or -1.
    u32::try_from(unsafe { sched_getcpu() }).ok()
}

#[cfg(not(target_os = "linux"))]
#[inline]
pub(crate) fn current_cpu() -> Option<u32> {
    None
}

/// How many times the calling thread has blocked so far (its voluntary context
/// switches, from Linux's `getrusage(RUSAGE_THREAD)`), or `None` where that is unknown
/// (not 64-bit Linux, the call failed, or under loom). Two readings that differ tell
/// that the thread slept, or waited for something, in between.
#[cfg(all(target_os = "linux", target_pointer_width = "64", not(loom)))]
pub(crate) fn voluntary_switches() -> Option<u64> {
    use std::ffi::{c_int, c_long};

    /// `struct rusage` on 64-bit Linux: two `struct timeval`s of two `long`s each,
    /// then fourteen `long` counters, of which `ru_nvcsw` is the thirteenth.
    #[repr(C)]
    struct Rusage {
        times: [c_long; 4],
        counters: [c_long; 14],
    }
    const RUSAGE_THREAD: c_int = 1;
    // SAFETY: the declaration matches glibc's and musl's `int getrusage(int, struct
    // rusage *)`; on 64-bit Linux `time_t` and `suseconds_t` are `long`, so `Rusage`
    // has the layout of a `struct rusage`.
    unsafe extern "C" {
        fn getrusage(who: c_int, usage: *mut Rusage) -> c_int;
    }
    let mut usage = Rusage {
        times: [0; 4],
        counters: [0; 14],
    };
    // SAFETY: `usage` is a live, writable `Rusage`, which the call fills and does not
    // retain.
    let ok = unsafe { getrusage(RUSAGE_THREAD, &raw mut usage) } == 0;
    ok.then(|| u64::try_from(usage.counters[12]).unwrap_or(0))
}

#[cfg(not(all(target_os = "linux", target_pointer_width = "64", not(loom))))]
pub(crate) fn voluntary_switches() -> Option<u64> {
    None
}

#[cfg(target_os = "linux")]
mod affinity {
    use super::CpuSet;
    use std::ffi::c_int;

    // SAFETY: the declarations match glibc's and musl's `int sched_getaffinity(pid_t,
    // size_t, cpu_set_t *)` and `int sched_setaffinity(pid_t, size_t, const cpu_set_t
    // *)`, with `pid_t` = `int` on Linux; `CpuSet` has the layout of a `cpu_set_t`
    // of `size_of::<CpuSet>()` bytes (an array of 64-bit words, CPU n at bit n).
    unsafe extern "C" {
        fn sched_getaffinity(pid: c_int, size: usize, mask: *mut CpuSet) -> c_int;
        fn sched_setaffinity(pid: c_int, size: usize, mask: *const CpuSet) -> c_int;
    }

    /// The CPUs the calling thread may run on.
    pub(crate) fn get() -> Option<CpuSet> {
        let mut set = CpuSet([0; 16]);
        // SAFETY: `pid` 0 names the calling thread; `set` is a live, writable
        // `CpuSet` of the size passed, which the call fills and does not retain.
        let ok = unsafe { sched_getaffinity(0, size_of::<CpuSet>(), &raw mut set) } == 0;
        ok.then_some(set)
    }

    /// Restricts the calling thread to `set`; on success it runs on one of those CPUs
    /// when this returns.
    pub(crate) fn set(set: &CpuSet) -> bool {
        // SAFETY: `pid` 0 names the calling thread; `set` points to a live `CpuSet`
        // of the size passed, read only during the call.
        unsafe { sched_setaffinity(0, size_of::<CpuSet>(), std::ptr::from_ref(set)) == 0 }
    }
}

#[cfg(not(target_os = "linux"))]
mod affinity {
    use super::CpuSet;

    pub(crate) fn get() -> Option<CpuSet> {
        None
    }

    pub(crate) fn set(_set: &CpuSet) -> bool {
        false
    }
}

pub(crate) use affinity::{get as current_affinity, set as set_affinity};

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Count(Arc<AtomicUsize>);
    impl Drop for Count {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    #[cfg(all(target_os = "linux", target_pointer_width = "64", not(loom)))]
    fn a_sleep_counts_as_a_voluntary_switch_and_a_busy_loop_does_not() {
        let before = voluntary_switches().expect("getrusage on Linux");
        std::thread::sleep(std::time::Duration::from_millis(2));
        let slept = voluntary_switches().expect("getrusage on Linux");
        assert!(slept > before, "{before} -> {slept}");
        // Reading the count does not block: two readings in a row (nothing else
        // between them that could block) agree.
        let again = voluntary_switches().expect("getrusage on Linux");
        let busy: u64 = (0..1_000_u64).map(std::hint::black_box).sum();
        assert_eq!(busy, 499_500);
        let after = voluntary_switches().expect("getrusage on Linux");
        assert_eq!(after, again);
    }

    #[test]
    fn inline_and_boxed_values_drop_exactly_once() {
        let n = Arc::new(AtomicUsize::new(0));
        drop(Erased::new(Count(n.clone())));
        drop(Erased::new([Count(n.clone()), Count(n.clone())]));
        // Larger than the inline storage: goes through a box.
        let big: [Count; 8] = std::array::from_fn(|_| Count(n.clone()));
        drop(Erased::new(big));
        assert_eq!(n.load(Ordering::SeqCst), 11);
        // Either side of the boundary: three words inline, four boxed.
        assert!(fits_inline::<[Count; INLINE_WORDS]>());
        assert!(!fits_inline::<[Count; INLINE_WORDS + 1]>());
        drop(Erased::new::<[Count; INLINE_WORDS]>(std::array::from_fn(
            |_| Count(n.clone()),
        )));
        drop(Erased::new::<[Count; INLINE_WORDS + 1]>(
            std::array::from_fn(|_| Count(n.clone())),
        ));
        assert_eq!(n.load(Ordering::SeqCst), 11 + 2 * INLINE_WORDS + 1);
    }

    #[test]
    fn the_spin_lock_serialises_its_holders() {
        let lock = Arc::new(SpinLock::new(0u64));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let lock = Arc::clone(&lock);
                std::thread::spawn(move || {
                    for _ in 0..100_000 {
                        // Not atomic: a lost update would show in the total.
                        let mut g = lock.lock();
                        *g += 1;
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*lock.lock(), 400_000);
    }

    #[test]
    fn over_aligned_values_are_boxed() {
        #[repr(align(64))]
        struct Wide(#[allow(dead_code)] Vec<u8>);
        assert!(!fits_inline::<Wide>());
        drop(Erased::new(Wide(vec![1, 2, 3])));
        assert!(fits_inline::<Vec<u64>>());
        assert!(fits_inline::<String>());
        assert!(fits_inline::<std::collections::BTreeMap<u64, u64>>());
        // 48 bytes with the default hasher: boxed.
        assert!(!fits_inline::<std::collections::HashMap<u64, u64>>());
        drop(Erased::new(
            std::collections::HashMap::<u64, Vec<u8>>::from([(1, vec![1])]),
        ));
        assert_eq!(size_of::<Erased>(), 32);
        assert!(fits_inline::<()>());
        drop(Erased::new(()));
    }

    #[test]
    fn a_panicking_destructor_unwinds_out_of_drop() {
        struct Bomb(#[allow(dead_code)] Vec<u8>);
        impl Drop for Bomb {
            fn drop(&mut self) {
                panic!("boom");
            }
        }
        let r = std::panic::catch_unwind(|| drop(Erased::new(Bomb(vec![1; 100]))));
        assert!(r.is_err());
        let r = std::panic::catch_unwind(|| drop(Erased::new([0u64; 16].map(|_| ()))));
        assert!(r.is_ok());
        let r = std::panic::catch_unwind(|| drop(Erased::new(Box::new(Bomb(vec![2; 8])))));
        assert!(r.is_err());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_thread_moves_to_one_cpu_and_back() {
        std::thread::spawn(|| {
            let home = current_affinity().expect("the thread's CPUs");
            let cpu = current_cpu().expect("the thread's CPU");
            assert!(home.contains(cpu));
            assert!(set_affinity(&CpuSet::only(cpu)));
            assert_eq!(current_affinity(), Some(CpuSet::only(cpu)));
            assert_eq!(current_cpu(), Some(cpu));
            assert!(set_affinity(&home));
            assert_eq!(current_affinity(), Some(home));
        })
        .join()
        .expect("no panic");
    }

    #[test]
    fn a_cpu_set_of_one_holds_that_cpu_only() {
        let set = CpuSet::only(70);
        assert!(set.contains(70));
        assert!(!set.contains(6) && !set.contains(71) && !set.contains(5000));
        assert_eq!(CpuSet::only(5000), CpuSet([0; 16]));
    }
}
