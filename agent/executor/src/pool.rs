//! The threads that run file and search actions, all started with the executor.
//!
//! Reading a file or walking a tree blocks, so those actions run off the async runtime. tokio's
//! own blocking pool starts a thread when work arrives and panics when the operating system
//! refuses one — which is what happens once a command has spent the sandbox's pids limit
//! (threads count against it like processes). This pool starts every thread it will ever have
//! when the executor starts, so serving a file action never needs a new thread: when the
//! threads cannot be started the executor does not start, and once it runs, file actions are
//! served however many processes the commands hold.

use std::io;
use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};

use dw_protocol::{ErrorKind, Failure};
use tokio::sync::oneshot;

/// A unit of work for one thread.
type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of threads taking jobs in arrival order; cheap to clone. The threads end when
/// the last clone is dropped and the jobs already queued are done.
#[derive(Debug, Clone)]
pub struct Pool {
    jobs: Sender<Job>,
}

impl Pool {
    /// Starts `threads` threads, or fails with the operating system's refusal of one of them.
    pub fn start(threads: usize) -> io::Result<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for index in 0..threads {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("dw-agent-pool-{index}"))
                .spawn(move || work(&queue))?;
        }
        Ok(Self { jobs })
    }

    /// Runs `action` on one of the threads and waits for its result; waits its turn while all
    /// threads are busy.
    pub async fn run<T: Send + 'static>(
        &self,
        action: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Failure> {
        let (result, receiver) = oneshot::channel();
        let job: Job = Box::new(move || {
            // The request may have been abandoned meanwhile; then no one wants the result.
            let _ = result.send(action());
        });
        self.jobs.send(job).map_err(|_| lost())?;
        // The sender is dropped without a result only if the action panicked.
        receiver.await.map_err(|_| lost())
    }
}

/// Takes jobs until the pool is dropped. A job that panics fails its request, not the thread.
fn work(queue: &Mutex<Receiver<Job>>) {
    loop {
        let job = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(job) = job else { return };
        let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
    }
}

fn lost() -> Failure {
    Failure::new(
        ErrorKind::Io,
        "the action failed unexpectedly inside the executor; the executor goes on serving",
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn block_on<T>(future: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn actions_run_on_the_pool_and_a_panic_fails_only_its_own() {
        let pool = Pool::start(1).unwrap();
        block_on(async {
            assert_eq!(pool.run(|| 6 * 7).await.unwrap(), 42);
            let failure = pool.run(|| -> u8 { panic!("boom") }).await.unwrap_err();
            assert_eq!(failure.kind, ErrorKind::Io);
            // The one thread survived the panic.
            assert_eq!(pool.run(|| "again").await.unwrap(), "again");
        });
    }
}
