//! The requests that can be cancelled, while they run, and the process groups of running
//! commands.
//!
//! A request registers itself when it starts and is removed when its [`Registration`] drops,
//! whatever way it ends. `cancel` flips the request's [`Cancellation`]; the request notices and
//! ends with `cancelled`. When the executor's input ends, every registered process group is
//! killed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use dw_protocol::{ErrorKind, Failure};
use rustix::process::{Pid, Signal};
use tokio::sync::watch;

/// The table of running cancellable requests; cheap to clone, shared by all tasks.
#[derive(Debug, Clone, Default)]
pub struct Running {
    table: Arc<Mutex<Table>>,
}

#[derive(Debug, Default)]
struct Table {
    entries: HashMap<u64, Entry>,
    /// Set by [`Running::kill_all`]: a command that starts after it is killed at once.
    closed: bool,
}

#[derive(Debug)]
struct Entry {
    cancel: watch::Sender<bool>,
    process_group: Option<Pid>,
}

/// A request's place in [`Running`]; removes it on drop.
#[derive(Debug)]
pub struct Registration {
    running: Running,
    id: u64,
    cancellation: Cancellation,
}

/// Tells a running request whether it was cancelled.
#[derive(Debug, Clone)]
pub struct Cancellation {
    cancelled: watch::Receiver<bool>,
}

impl Running {
    /// Registers request `id`; refused if a request with that id is still running, since
    /// its responses could not be told apart.
    pub fn register(&self, id: u64) -> Result<Registration, Failure> {
        let mut table = self.lock();
        if table.entries.contains_key(&id) {
            return Err(Failure::new(
                ErrorKind::InvalidRequest,
                format!("request id {id} is still running; give every request a new id"),
            ));
        }
        let (cancel, cancelled) = watch::channel(false);
        table.entries.insert(
            id,
            Entry {
                cancel,
                process_group: None,
            },
        );
        Ok(Registration {
            running: self.clone(),
            id,
            cancellation: Cancellation { cancelled },
        })
    }

    /// Cancels request `id`: true if it was running, and will end with `cancelled`.
    pub fn cancel(&self, id: u64) -> bool {
        self.lock()
            .entries
            .get(&id)
            .map(|entry| entry.cancel.send_replace(true))
            .is_some()
    }

    /// Kills the process group of every running command, and of every command that starts
    /// from now on.
    pub fn kill_all(&self) {
        let mut table = self.lock();
        table.closed = true;
        for entry in table.entries.values() {
            if let Some(group) = entry.process_group {
                kill_group(group);
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        // The table stays consistent even if a holder panicked: every change is one insert,
        // remove or field store.
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Registration {
    /// What the request watches for a `cancel`.
    pub fn cancellation(&self) -> Cancellation {
        self.cancellation.clone()
    }

    /// Records the process group of the request's command, to be killed if the executor's
    /// input ends while it runs.
    pub fn set_process_group(&self, group: Pid) {
        let mut table = self.running.lock();
        if table.closed {
            kill_group(group);
        }
        if let Some(entry) = table.entries.get_mut(&self.id) {
            entry.process_group = Some(group);
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.running.lock().entries.remove(&self.id);
    }
}

impl Cancellation {
    /// A cancellation that never fires, for tests of cancellable actions.
    #[cfg(test)]
    pub fn never() -> Self {
        let (_cancel, cancelled) = watch::channel(false);
        Self { cancelled }
    }

    /// True once the request was cancelled.
    pub fn is_cancelled(&self) -> bool {
        *self.cancelled.borrow()
    }

    /// Completes when the request is cancelled; never, if it cannot be any more.
    pub async fn cancelled(&mut self) {
        if self
            .cancelled
            .wait_for(|cancelled| *cancelled)
            .await
            .is_err()
        {
            std::future::pending::<()>().await;
        }
    }
}

/// The failure a cancelled request ends with.
pub fn cancelled_failure() -> Failure {
    Failure::new(ErrorKind::Cancelled, "cancelled by a `cancel` request")
}

/// Sends SIGKILL to every process in `group`. A group that is already gone is fine: that is
/// the state this asks for.
pub fn kill_group(group: Pid) {
    let _ = rustix::process::kill_process_group(group, Signal::KILL);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn a_request_is_cancellable_only_while_registered() {
        let running = Running::default();
        let registration = running.register(1).unwrap();
        let cancellation = registration.cancellation();
        assert!(!cancellation.is_cancelled());
        assert_eq!(
            running.register(1).unwrap_err().kind,
            ErrorKind::InvalidRequest
        );
        assert!(running.cancel(1));
        assert!(cancellation.is_cancelled());
        drop(registration);
        assert!(!running.cancel(1));
        assert!(running.register(1).is_ok());
    }

    #[test]
    fn never_is_never_cancelled() {
        assert!(!Cancellation::never().is_cancelled());
    }
}
