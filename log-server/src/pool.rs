//! Threads for the sqlite reads and signature checks of request handlers,
//! so that none runs on an async worker. Each pool's threads take work from
//! one queue: under load a thread that finishes a task finds the next one
//! waiting instead of going to sleep, which keeps thread switches (the cost
//! of a general blocking pool for short tasks) low.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

type Task = Box<dyn FnOnce() + Send>;

/// A fixed set of named threads with a bounded queue.
#[derive(Debug, Clone)]
pub struct Pool {
    queue: SyncSender<Task>,
}

/// The pool's queue is full, or its threads are gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the {0} pool is busy")]
pub struct Busy(pub &'static str);

impl Pool {
    /// Starts `threads` threads named `name-N`, with room for `queue` waiting tasks.
    ///
    /// # Errors
    /// When the OS cannot start a thread.
    pub fn new(name: &'static str, threads: usize, queue: usize) -> std::io::Result<Pool> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Task>(queue);
        let rx = Arc::new(Mutex::new(rx));
        for n in 0..threads.max(1) {
            let rx = Arc::clone(&rx);
            std::thread::Builder::new()
                .name(format!("{name}-{n}"))
                .spawn(move || work(&rx))?;
        }
        Ok(Pool { queue: tx })
    }

    /// Runs `f` on one of the pool's threads and waits (asynchronously) for it.
    ///
    /// # Errors
    /// [`Busy`] when the queue is full or the pool has stopped.
    pub async fn run<T: Send + 'static>(
        &self,
        name: &'static str,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let task: Task = Box::new(move || {
            let _ = tx.send(f());
        });
        match self.queue.try_send(task) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => return Err(Busy(name)),
        }
        rx.await.map_err(|_| Busy(name))
    }
}

fn work(rx: &Mutex<Receiver<Task>>) {
    loop {
        let task = match rx.lock() {
            Ok(r) => r.recv(),
            Err(_) => return,
        };
        match task {
            Ok(t) => t(),
            Err(_) => return,
        }
    }
}
