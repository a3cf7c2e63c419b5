//! Work a request leaves behind once it has answered (a proxied call's audit event, written
//! after the answer's last byte so that the caller does not wait for the disk): counted, so
//! that a stopping server finishes it before it closes the store.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

#[derive(Debug, Default)]
struct Count {
    running: AtomicUsize,
    idle: Notify,
}

/// Tasks left behind by requests.
#[derive(Debug, Clone, Default)]
pub struct Background(Arc<Count>);

impl Background {
    /// Runs `work` on its own, counted until it ends.
    pub fn spawn(&self, work: impl Future<Output = ()> + Send + 'static) {
        let count = Arc::clone(&self.0);
        count.running.fetch_add(1, Ordering::AcqRel);
        tokio::spawn(async move {
            work.await;
            if count.running.fetch_sub(1, Ordering::AcqRel) == 1 {
                count.idle.notify_waiters();
            }
        });
    }

    /// Returns once no task runs, or after `within`.
    pub async fn drained(&self, within: Duration) {
        let wait = async {
            loop {
                let idle = self.0.idle.notified();
                if self.0.running.load(Ordering::Acquire) == 0 {
                    return;
                }
                idle.await;
            }
        };
        let _ = tokio::time::timeout(within, wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn draining_waits_for_every_task() {
        let bg = Background::default();
        let done = Arc::new(AtomicUsize::new(0));
        for i in 0..3 {
            let done = Arc::clone(&done);
            bg.spawn(async move {
                tokio::time::sleep(Duration::from_millis(20 * (i + 1))).await;
                done.fetch_add(1, Ordering::AcqRel);
            });
        }
        bg.drained(Duration::from_secs(10)).await;
        assert_eq!(done.load(Ordering::Acquire), 3);
    }
}
