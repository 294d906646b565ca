//! Time: std's, or under loom a deterministic clock.
//!
//! Loom does not model time, and a model must take the same path every time loom
//! replays an interleaving, so under loom `Instant::now()` reads a per-execution
//! counter that advances by a tick (500 ms) at every reading: time passes exactly when some
//! thread looks at the clock. Deadlines therefore do expire in the models (a flush
//! with a timeout can give up, the exit drain can time out), and a worker's idle
//! back-off goes through its warm phase into its cold one after a few polls.

pub(crate) use std::time::Duration;

#[cfg(not(loom))]
pub(crate) use std::time::Instant;

#[cfg(loom)]
pub(crate) use self::model::Instant;

#[cfg(loom)]
mod model {
    use super::Duration;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// How far the model clock advances at each reading.
    const TICK: Duration = Duration::from_millis(500);

    loom::lazy_static! {
        /// Ticks read so far in this execution. A std atomic: the clock is not part of
        /// any protocol under test, so loom need not explore its orderings.
        static ref TICKS: AtomicU64 = AtomicU64::new(0);
    }

    /// A reading of the model clock: the time since the execution started.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
    pub(crate) struct Instant(Duration);

    impl Instant {
        pub(crate) fn now() -> Instant {
            let ticks = TICKS.fetch_add(1, Ordering::Relaxed) + 1;
            Instant(TICK * u32::try_from(ticks).expect("a short model"))
        }

        pub(crate) fn checked_add(&self, d: Duration) -> Option<Instant> {
            self.0.checked_add(d).map(Instant)
        }

        pub(crate) fn checked_duration_since(&self, earlier: Instant) -> Option<Duration> {
            self.0.checked_sub(earlier.0)
        }

        pub(crate) fn duration_since(&self, earlier: Instant) -> Duration {
            self.0.saturating_sub(earlier.0)
        }
    }

    impl std::ops::Sub for Instant {
        type Output = Duration;
        fn sub(self, earlier: Instant) -> Duration {
            self.duration_since(earlier)
        }
    }
}
