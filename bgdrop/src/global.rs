//! The process-wide pool: started on first use, drained at process exit.

use crate::cost::DropCost;
use crate::pool::{Bgdrop, Builder};
use crate::worker::Shared;
use crate::{BuildError, raw};
use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How long process exit waits, by default, for the global pool's queued values to be
/// dropped: 5 seconds. Configure it with [`Builder::exit_timeout`] and
/// [`Builder::install_global`].
pub const DEFAULT_EXIT_TIMEOUT: Duration = Duration::from_secs(5);

static GLOBAL: OnceLock<Bgdrop> = OnceLock::new();
/// The exit timeout of the global pool, in nanoseconds.
static EXIT_TIMEOUT_NANOS: AtomicU64 = AtomicU64::new(0);

/// The error of [`Builder::install_global`].
#[derive(Debug)]
#[non_exhaustive]
pub enum InstallError {
    /// The global pool was already started, by an earlier `install_global` or by its
    /// first use ([`global`], [`defer`], [`Deferred`](crate::Deferred), the derive).
    /// Install it at the start of `main`, before anything defers a value.
    AlreadyStarted,
    /// No worker thread could be spawned.
    Build(BuildError),
}

impl fmt::Display for InstallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InstallError::AlreadyStarted => f.write_str(
                "the global bgdrop pool was already started; install it before its first use",
            ),
            InstallError::Build(e) => write!(f, "could not install the global bgdrop pool: {e}"),
        }
    }
}

impl std::error::Error for InstallError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            InstallError::AlreadyStarted => None,
            InstallError::Build(e) => Some(e),
        }
    }
}

fn start(builder: Builder) -> (Bgdrop, Option<BuildError>) {
    EXIT_TIMEOUT_NANOS.store(
        u64::try_from(builder.exit_timeout.as_nanos()).unwrap_or(u64::MAX),
        Ordering::Relaxed,
    );
    let (pool, error) = builder.build_degraded();
    raw::at_process_exit(drain_at_exit);
    (pool, error)
}

pub(crate) fn install(builder: Builder) -> Result<&'static Bgdrop, InstallError> {
    if GLOBAL.get().is_some() {
        return Err(InstallError::AlreadyStarted);
    }
    let mut installed = false;
    let mut error = None;
    let pool = GLOBAL.get_or_init(|| {
        installed = true;
        let (pool, e) = start(builder);
        error = e;
        pool
    });
    match (installed, error) {
        (false, _) => Err(InstallError::AlreadyStarted),
        (true, Some(e)) => Err(InstallError::Build(e)),
        (true, None) => Ok(pool),
    }
}

/// The process-wide pool, started with the default settings on first use unless
/// [`Builder::install_global`] configured it first.
///
/// Its queue is drained when the process exits normally (return from `main`,
/// [`std::process::exit`], or a panic in `main`): a hook registered with the C
/// runtime's `atexit` stops the pool from taking values (later ones are dropped by
/// their caller), then has what is queued dropped by the workers and a helper thread
/// together, while the exiting thread waits at most the exit timeout
/// ([`DEFAULT_EXIT_TIMEOUT`]): a destructor that never returns delays exit by that
/// bound and no more. An abort, a signal, or `panic = "abort"` skips
/// the hook like every other destructor.
///
/// If no worker thread can be spawned, the global pool drops every value on the
/// caller's thread.
///
/// # Examples
///
/// ```
/// let pool = bgdrop::global();
/// pool.drop(vec![vec![0u8; 32]; 1000]);
/// assert!(std::ptr::eq(pool, bgdrop::global()));
/// ```
#[inline]
pub fn global() -> &'static Bgdrop {
    // Inlined into the caller's crate: once the pool exists, finding it is a load and
    // a compare instead of a call (the derive and `Deferred` find it on every drop).
    match GLOBAL.get() {
        Some(pool) => pool,
        None => start_global(),
    }
}

/// [`global`] before the pool exists: starts it with the defaults, unless another
/// thread (or [`Builder::install_global`](crate::Builder::install_global)) got there
/// first.
#[cold]
#[inline(never)]
fn start_global() -> &'static Bgdrop {
    GLOBAL.get_or_init(|| start(Builder::default()).0)
}

/// Hands `value` to the [global] pool: the same as `bgdrop::global().drop(value)`.
///
/// # Examples
///
/// ```
/// let frame_garbage: Vec<Vec<f32>> = vec![vec![0.0; 256]; 4096];
/// bgdrop::defer(frame_garbage);
/// ```
#[inline]
pub fn defer<T: Send + 'static>(value: T) {
    global().drop(value);
}

/// Drops `value` here if its [`DropCost`] is under the global pool's threshold, and
/// hands it to the global pool otherwise: `bgdrop::global().drop_if_costly(value)`.
///
/// # Examples
///
/// ```
/// bgdrop::defer_if_costly(String::from("tiny")); // dropped here
/// bgdrop::defer_if_costly(vec![String::new(); 10_000]); // deferred
/// ```
#[allow(
    clippy::inline_always,
    reason = "a call here costs more than the check it makes: see `Bgdrop::drop_with_threshold`"
)]
#[inline(always)]
pub fn defer_if_costly<T: DropCost + Send + 'static>(value: T) {
    global().drop_if_costly(value);
}

/// Blocks until every value handed to the [global] pool before the call has been
/// dropped: `bgdrop::global().flush()`.
pub fn flush() {
    global().flush();
}

/// [`flush`] with a timeout: `bgdrop::global().flush_timeout(timeout)`.
#[must_use = "the result says whether the flush finished"]
pub fn flush_timeout(timeout: Duration) -> bool {
    global().flush_timeout(timeout)
}

extern "C" fn drain_at_exit() {
    // Nothing may unwind out of an `extern "C"` function.
    let _ = std::panic::catch_unwind(|| {
        let Some(pool) = GLOBAL.get() else { return };
        let timeout = Duration::from_nanos(EXIT_TIMEOUT_NANOS.load(Ordering::Relaxed));
        Shared::close_and_drain(pool.shared(), timeout);
    });
}
