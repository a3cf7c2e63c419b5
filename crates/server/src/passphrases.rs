//! Share passphrases, hashed and checked with Argon2id on a small pool of threads of their
//! own. One hash holds about 19 MiB for tens of milliseconds; run on any blocking thread, a
//! flood of requests spread that memory over every thread's malloc arena, which keeps it.
//! Here [`WORKERS`] threads do all the hashing, and at most [`QUEUE`] requests wait for them:
//! past that the answer is a 503 to retry, and memory stays flat whatever arrives.

use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use clawvault_core::{SecretValue, passphrase};
use tokio::sync::oneshot;

use crate::error::{ApiError, ApiResult};

/// Threads that hash (the machine's cores do the work; more threads only hold more memory).
const WORKERS: usize = 2;
/// Requests that may wait for a worker.
const QUEUE: usize = 64;

type Job = Box<dyn FnOnce() + Send>;

/// The hashing pool.
#[derive(Debug)]
pub struct Passphrases {
    jobs: SyncSender<Job>,
}

impl Default for Passphrases {
    fn default() -> Self {
        let (jobs, queue) = mpsc::sync_channel::<Job>(QUEUE);
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..WORKERS {
            let queue = Arc::clone(&queue);
            let spawned = std::thread::Builder::new().name(format!("passphrase-{n}")).spawn(move || {
                loop {
                    // The lock is held only to take the next job; a poisoned lock still
                    // holds a usable receiver.
                    let next = queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner).recv();
                    match next {
                        Ok(job) => job(),
                        Err(_) => break, // the server is gone
                    }
                }
            });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "a passphrase thread could not be started");
            }
        }
        Self { jobs }
    }
}

impl Passphrases {
    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> ApiResult<T> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(work());
        });
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                return Err(ApiError::Unavailable(
                    "the server is busy checking passphrases; retry in a few seconds".into(),
                ));
            }
            Err(TrySendError::Disconnected(_)) => {
                return Err(ApiError::Internal("the passphrase threads have stopped".into()));
            }
        }
        rx.await.map_err(|_| ApiError::Internal("a passphrase check did not finish".into()))
    }

    /// The PHC string of `p`.
    ///
    /// # Errors
    /// 400 for a passphrase that breaks the rules, 503 when too busy.
    pub async fn hash(&self, p: SecretValue) -> ApiResult<String> {
        self.run(move || passphrase::hash(&p)).await?.map_err(|e| ApiError::BadRequest(e.to_string()))
    }

    /// Whether `given` matches `stored`.
    ///
    /// # Errors
    /// 503 when too busy.
    pub async fn verify(&self, given: SecretValue, stored: String) -> ApiResult<bool> {
        self.run(move || passphrase::verify(&given, &stored)).await
    }
}
