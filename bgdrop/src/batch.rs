//! [`Batch`]: collect many values on the caller, hand them all off at once.

use crate::cost::DropCost;
use crate::pool::Bgdrop;
use crate::raw::Erased;
use crossbeam_channel::{Receiver, Sender};
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

/// How many emptied buffers a batch keeps for reuse.
const SPARE_BUFFERS: usize = 2;

/// Values collected on the caller's thread and handed to a pool together, in one
/// hand-off, when you say so.
///
/// [`push`](Batch::push) only moves the value into a buffer: no queue, no atomic
/// operation, and no allocation once the buffer has grown to the batch's usual size
/// (the workers send emptied buffers back for reuse). [`release`](Batch::release)
/// ships the whole buffer to the pool as one value; dropping the batch releases it
/// too.
///
/// Use it for garbage that a frame, a request or a transaction produces: collect it
/// while the work runs, release it at a quiet point (the end of the frame, before
/// waiting for the next tick), so the workers free the memory while your thread waits
/// instead of while it allocates.
///
/// A batch counts as one value in the pool's queue and [`Stats`](crate::Stats). If any
/// of its values' destructors panic, the others are still dropped and the batch is
/// counted once in [`Stats::panicked`](crate::Stats::panicked).
///
/// # Examples
///
/// ```
/// use bgdrop::Batch;
///
/// let mut garbage = Batch::new(); // on the global pool
/// for frame in 0..3 {
///     let scratch: Vec<Vec<u32>> = (0..1000).map(|i| vec![i; 8]).collect();
///     // ... use `scratch` for this frame ...
///     garbage.push(scratch);
///     garbage.push(format!("frame {frame} log"));
///     // End of frame: one hand-off for everything collected.
///     garbage.release();
/// }
/// ```
pub struct Batch {
    pool: Bgdrop,
    items: Vec<Erased>,
    /// Emptied shipments (their buffers with them) coming back from the workers.
    spare: Receiver<Box<Shipment>>,
    home: Sender<Box<Shipment>>,
}

impl fmt::Debug for Batch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batch")
            .field("len", &self.items.len())
            .field("capacity", &self.items.capacity())
            .finish_non_exhaustive()
    }
}

impl Default for Batch {
    /// Same as [`Batch::new`].
    fn default() -> Self {
        Batch::new()
    }
}

impl Batch {
    /// An empty batch for the [global](fn@crate::global) pool.
    #[must_use]
    pub fn new() -> Self {
        Batch::with_pool(crate::global())
    }

    /// An empty batch for `pool`.
    #[must_use]
    pub fn with_pool(pool: &Bgdrop) -> Self {
        let (home, spare) = crossbeam_channel::bounded(SPARE_BUFFERS);
        Batch {
            pool: pool.clone(),
            items: Vec::new(),
            spare,
            home,
        }
    }

    /// An empty batch for the global pool, with room for `capacity` values before its
    /// buffer grows.
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        let mut batch = Batch::new();
        batch.items.reserve(capacity);
        batch
    }

    /// Adds `value` to the batch. It is dropped on a worker after the next
    /// [`release`](Batch::release).
    #[inline]
    pub fn push<T: Send + 'static>(&mut self, value: T) {
        if std::mem::needs_drop::<T>() {
            self.items.push(Erased::new(value));
        }
    }

    /// Drops `value` here if its [`DropCost`] is under the pool's threshold, and adds
    /// it to the batch otherwise.
    #[inline]
    pub fn push_if_costly<T: DropCost + Send + 'static>(&mut self, value: T) {
        if value.drop_cost() >= self.pool.threshold() {
            self.push(value);
        }
    }

    /// The number of values waiting for the next release.
    #[must_use]
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// How many values the batch holds before its buffer grows.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.items.capacity()
    }

    /// Whether no value waits for the next release.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Hands every collected value to the pool in one hand-off.
    ///
    /// The batch keeps a buffer for the next values: an emptied one sent back by the
    /// workers when there is one, a new one of the same capacity otherwise.
    pub fn release(&mut self) {
        if self.items.is_empty() {
            return;
        }
        let mut shipment = self.spare.try_recv().unwrap_or_else(|_| {
            Box::new(Shipment {
                items: Vec::with_capacity(self.items.capacity()),
                home: None,
            })
        });
        // The batch keeps the shipment's empty buffer, the shipment takes the values.
        std::mem::swap(&mut shipment.items, &mut self.items);
        shipment.home = Some(self.home.clone());
        self.pool.drop(Parcel(Some(shipment)));
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        if !self.items.is_empty() {
            // No way home: the batch is gone.
            self.pool.drop(Parcel(Some(Box::new(Shipment {
                items: std::mem::take(&mut self.items),
                home: None,
            }))));
        }
    }
}

/// The values of one release, on their way to a worker. A shipment comes back to its
/// batch with its emptied buffer, so that a warm batch allocates nothing.
struct Shipment {
    items: Vec<Erased>,
    /// Where to send the shipment once emptied. Taken out before it is sent: a
    /// shipment waiting in its batch's channel never holds a sender of that channel
    /// (which would keep the channel, and itself, alive for ever).
    home: Option<Sender<Box<Shipment>>>,
}

/// What the pool is handed: a boxed [`Shipment`], one pointer, which travels inline in
/// a stage's slot (a `Vec` and a channel would not fit, and would cost a box per
/// release).
struct Parcel(Option<Box<Shipment>>);

impl Drop for Parcel {
    fn drop(&mut self) {
        let Some(mut shipment) = self.0.take() else {
            return;
        };
        let mut first_panic = None;
        for item in shipment.items.drain(..) {
            if let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(item))) {
                if first_panic.is_none() {
                    first_panic = Some(payload);
                } else {
                    // Only one panic is passed on; the others are dropped here.
                    let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
                }
            }
        }
        // Send the emptied shipment back for reuse; if the batch is gone or has spares
        // enough, it is freed here.
        if let Some(home) = shipment.home.take() {
            let _ = home.try_send(shipment);
        }
        if let Some(payload) = first_panic {
            resume_unwind(payload);
        }
    }
}
