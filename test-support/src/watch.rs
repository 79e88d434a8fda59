//! Seeing files appear in a directory the moment they do (inotify), so that a fault test can
//! strike while another process is in the middle of writing.

use std::ffi::OsString;
use std::os::fd::AsFd;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

/// A watch on one directory for names that appear in it (created, or renamed into it).
pub struct DirWatch {
    inotify: Inotify,
}

/// A name that appeared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appeared {
    /// The file's name in the directory.
    pub name: OsString,
    /// Whether it came by a rename (else it was created).
    pub renamed: bool,
}

impl DirWatch {
    /// Watches `dir` from now on.
    pub fn new(dir: &Path) -> DirWatch {
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)
            .expect("cannot start inotify");
        inotify
            .add_watch(dir, AddWatchFlags::IN_CREATE | AddWatchFlags::IN_MOVED_TO)
            .unwrap_or_else(|error| panic!("cannot watch {}: {error}", dir.display()));
        DirWatch { inotify }
    }

    /// Waits for the next names to appear (one read can bring several); empty when `timeout`
    /// passed first.
    pub fn next(&self, timeout: Duration) -> Vec<Appeared> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.inotify.read_events() {
                Ok(events) if !events.is_empty() => {
                    return events
                        .into_iter()
                        .filter_map(|event| {
                            Some(Appeared {
                                name: event.name?,
                                renamed: event.mask.contains(AddWatchFlags::IN_MOVED_TO),
                            })
                        })
                        .collect();
                }
                Ok(_) | Err(nix::errno::Errno::EAGAIN) => {}
                Err(error) => panic!("inotify failed: {error}"),
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Vec::new();
            }
            let wait = PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX);
            let mut fds = [PollFd::new(self.inotify.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, wait) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(error) => panic!("poll on inotify failed: {error}"),
            }
        }
    }

    /// Forgets the names that appeared so far.
    pub fn drain(&self) {
        while matches!(self.inotify.read_events(), Ok(events) if !events.is_empty()) {}
    }
}
