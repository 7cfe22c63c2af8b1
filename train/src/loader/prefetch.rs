//! Prepares the next batches on another thread while the training step runs.
//!
//! A producer thread calls `make(i)` for i = 0, 1, … and sends the results through a bounded
//! channel (`depth` batches ahead); the training loop takes them in order with `next()`. When
//! the loop drops the loader the channel closes and the thread ends after its current batch.

use std::sync::mpsc::{sync_channel, Receiver};
use std::thread::JoinHandle;

/// Batches made ahead of time by a background thread.
pub struct Prefetcher<B: Send + 'static> {
    receiver: Option<Receiver<B>>,
    worker: Option<JoinHandle<()>>,
}

impl<B: Send + 'static> Prefetcher<B> {
    /// Starts a thread making `count` batches with `make`, at most `depth` ahead.
    pub fn new<F>(count: usize, depth: usize, make: F) -> Self
    where
        F: FnMut(usize) -> B + Send + 'static,
    {
        let (tx, rx) = sync_channel(depth.max(1));
        let mut make = make;
        let worker = std::thread::spawn(move || {
            for i in 0..count {
                if tx.send(make(i)).is_err() {
                    break; // the consumer is gone
                }
            }
        });
        Prefetcher {
            receiver: Some(rx),
            worker: Some(worker),
        }
    }
}

impl<B: Send + 'static> Iterator for Prefetcher<B> {
    type Item = B;
    fn next(&mut self) -> Option<B> {
        self.receiver.as_ref()?.recv().ok()
    }
}

impl<B: Send + 'static> Drop for Prefetcher<B> {
    fn drop(&mut self) {
        drop(self.receiver.take()); // unblocks a producer waiting to send
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_arrive_in_order_and_early_drop_stops_the_thread() {
        let all: Vec<usize> = Prefetcher::new(5, 2, |i| i * 10).collect();
        assert_eq!(all, vec![0, 10, 20, 30, 40]);
        let mut early = Prefetcher::new(1_000_000, 2, |i| vec![i; 16]);
        assert_eq!(early.next().unwrap()[0], 0);
        drop(early); // must not hang
    }
}
