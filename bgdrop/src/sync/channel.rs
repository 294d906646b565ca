//! The pool's queue: crossbeam-channel, or under loom a model of the part of its API
//! the crate uses.
//!
//! The model is a `VecDeque` behind one loom `Mutex`, with a `Condvar` for senders
//! waiting for room. Every operation is atomic (linearizable), as crossbeam-channel's
//! are, and a value sent happens-before its receipt. What it does not model is
//! crossbeam's lock-free internals: the models check *our* protocols on top of a
//! channel that behaves as crossbeam-channel documents, not crossbeam itself (which
//! has its own loom tests).

#[cfg(not(loom))]
pub(crate) use crossbeam_channel::{
    Receiver, SendError, SendTimeoutError, Sender, TryRecvError, TrySendError, bounded, unbounded,
};

#[cfg(loom)]
pub(crate) use self::model::{Receiver, Sender, bounded, unbounded};
#[cfg(loom)]
pub(crate) use crossbeam_channel::{SendError, SendTimeoutError, TryRecvError, TrySendError};

#[cfg(loom)]
mod model {
    use crate::sync::time::Instant;
    use crate::sync::{Arc, Condvar, Mutex, lock};
    use crossbeam_channel::{SendError, SendTimeoutError, TryRecvError, TrySendError};
    use std::collections::VecDeque;
    use std::sync::PoisonError;

    struct Chan<T> {
        state: Mutex<State<T>>,
        /// Senders blocked in `send` waiting for room (or for the receiver to go).
        not_full: Condvar,
    }

    struct State<T> {
        queue: VecDeque<T>,
        capacity: Option<usize>,
        senders: usize,
        receivers: usize,
    }

    impl<T> State<T> {
        fn full(&self) -> bool {
            self.capacity.is_some_and(|c| self.queue.len() >= c)
        }
    }

    pub(crate) struct Sender<T>(Arc<Chan<T>>);
    pub(crate) struct Receiver<T>(Arc<Chan<T>>);

    fn channel<T>(capacity: Option<usize>) -> (Sender<T>, Receiver<T>) {
        let chan = Arc::new(Chan {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                capacity,
                senders: 1,
                receivers: 1,
            }),
            not_full: Condvar::new(),
        });
        (Sender(Arc::clone(&chan)), Receiver(chan))
    }

    /// A channel of `capacity` values. Zero capacity (a rendezvous channel in
    /// crossbeam) is not modelled: the crate never asks for it.
    pub(crate) fn bounded<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
        assert!(
            capacity > 0,
            "the loom channel does not model rendezvous channels"
        );
        channel(Some(capacity))
    }

    pub(crate) fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
        channel(None)
    }

    impl<T> Sender<T> {
        pub(crate) fn try_send(&self, msg: T) -> Result<(), TrySendError<T>> {
            let mut s = lock(&self.0.state);
            if s.receivers == 0 {
                Err(TrySendError::Disconnected(msg))
            } else if s.full() {
                Err(TrySendError::Full(msg))
            } else {
                s.queue.push_back(msg);
                Ok(())
            }
        }

        pub(crate) fn send(&self, msg: T) -> Result<(), SendError<T>> {
            let mut s = lock(&self.0.state);
            loop {
                if s.receivers == 0 {
                    return Err(SendError(msg));
                }
                if !s.full() {
                    s.queue.push_back(msg);
                    return Ok(());
                }
                s = self
                    .0
                    .not_full
                    .wait(s)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        }

        /// Loom has no time: the deadline is taken as already past when the queue is
        /// full, so this tries once and gives up (the shortest wait a caller with a
        /// deadline can get, which is the case that exercises its give-up path).
        pub(crate) fn send_deadline(
            &self,
            msg: T,
            _deadline: Instant,
        ) -> Result<(), SendTimeoutError<T>> {
            self.try_send(msg).map_err(|e| match e {
                TrySendError::Full(m) => SendTimeoutError::Timeout(m),
                TrySendError::Disconnected(m) => SendTimeoutError::Disconnected(m),
            })
        }
    }

    impl<T> Receiver<T> {
        pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
            let mut s = lock(&self.0.state);
            match s.queue.pop_front() {
                Some(msg) => {
                    if s.capacity.is_some() {
                        drop(s);
                        self.0.not_full.notify_one();
                    }
                    Ok(msg)
                }
                // As in crossbeam, queued messages are still received after the last
                // sender is gone.
                None if s.senders == 0 => Err(TryRecvError::Disconnected),
                None => Err(TryRecvError::Empty),
            }
        }

        pub(crate) fn len(&self) -> usize {
            lock(&self.0.state).queue.len()
        }

        pub(crate) fn is_empty(&self) -> bool {
            lock(&self.0.state).queue.is_empty()
        }
    }

    impl<T> Drop for Sender<T> {
        fn drop(&mut self) {
            lock(&self.0.state).senders -= 1;
        }
    }

    impl<T> Drop for Receiver<T> {
        fn drop(&mut self) {
            lock(&self.0.state).receivers -= 1;
            self.0.not_full.notify_all();
        }
    }
}
