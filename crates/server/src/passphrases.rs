//! Share passphrases, hashed and checked with Argon2id on a small pool of threads of their
//! own. One hash holds about 19 MiB for tens of milliseconds; run on any blocking thread, a
//! flood of requests spread that memory over every thread's malloc arena, which keeps it.
//! Here [`WORKERS`] threads do all the hashing, and at most [`QUEUE`] requests wait for them:
//! past that the answer is a 503 to retry, and memory stays flat whatever arrives.
//!
//! Checks (share openings, which anyone with a link can send) may hold at most
//! [`CHECKS_AT_MOST`] of those places, so a flood of anonymous guesses cannot stop the
//! users who create shares.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use clawvault_core::{SecretValue, passphrase};
use tokio::sync::oneshot;

use crate::error::{ApiError, ApiResult};

/// Threads that hash (the machine's cores do the work; more threads only hold more memory).
const WORKERS: usize = 2;
/// Requests that may wait for a worker.
const QUEUE: usize = 64;
/// Passphrase checks queued or running at most: the rest of the queue is kept for hashing.
const CHECKS_AT_MOST: usize = 48;

type Job = Box<dyn FnOnce() + Send>;

/// The hashing pool.
#[derive(Debug)]
pub struct Passphrases {
    jobs: SyncSender<Job>,
    checks: Arc<AtomicUsize>,
}

/// One check's place among [`CHECKS_AT_MOST`], given back when the check ends.
struct CheckPlace(Arc<AtomicUsize>);

impl Drop for CheckPlace {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn busy() -> ApiError {
    ApiError::Unavailable("the server is busy checking passphrases; retry in a few seconds".into())
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
        Self { jobs, checks: Arc::new(AtomicUsize::new(0)) }
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
            Err(TrySendError::Full(_)) => return Err(busy()),
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
        self.check(move || passphrase::verify(&given, &stored)).await
    }

    /// Runs a check in one of the places checks may hold.
    async fn check<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> ApiResult<T> {
        if self.checks.fetch_add(1, Ordering::AcqRel) >= CHECKS_AT_MOST {
            self.checks.fetch_sub(1, Ordering::AcqRel);
            return Err(busy());
        }
        let place = CheckPlace(Arc::clone(&self.checks));
        // The place is given back when the check has run (or was refused), in the worker.
        self.run(move || {
            let _place = place;
            work()
        })
        .await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed check
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::{CHECKS_AT_MOST, Passphrases};

    #[tokio::test]
    async fn checks_cannot_take_the_places_kept_for_hashing() {
        let pool = Arc::new(Passphrases::default());
        let gate = Arc::new((std::sync::Mutex::new(false), std::sync::Condvar::new()));
        let wait = |gate: Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>| {
            move || {
                let (open, cv) = &*gate;
                let mut open = open.lock().unwrap();
                while !*open {
                    open = cv.wait(open).unwrap();
                }
            }
        };
        let mut held = Vec::new();
        for _ in 0..CHECKS_AT_MOST {
            let (pool, work) = (Arc::clone(&pool), wait(Arc::clone(&gate)));
            held.push(tokio::spawn(async move { pool.check(work).await }));
        }
        while pool.checks.load(std::sync::atomic::Ordering::Acquire) < CHECKS_AT_MOST {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert!(pool.check(|| ()).await.is_err(), "a check past the limit is refused");
        let hashing = {
            let pool = Arc::clone(&pool);
            tokio::spawn(async move { pool.run(|| "hashed").await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        let (open, cv) = &*gate;
        *open.lock().unwrap() = true;
        cv.notify_all();
        assert_eq!(hashing.await.unwrap().unwrap(), "hashed", "hashing still has its places");
        for h in held {
            h.await.unwrap().unwrap();
        }
        assert_eq!(pool.checks.load(std::sync::atomic::Ordering::Acquire), 0, "places are given back");
        assert!(pool.check(|| ()).await.is_ok());
    }
}
