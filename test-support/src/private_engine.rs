//! A second Docker engine, private to one test, that the test may stop, kill and start again
//! without touching the machine's engine.
//!
//! [`PrivateEngine::start`] runs `dockerd` with everything of its own under one temp dir: its
//! socket, data root, exec root (where it runs its own containerd), pidfile and configuration
//! file (so that `/etc/docker/daemon.json` does not apply). It uses the storage driver of the
//! machine's engine and separate containerd namespaces (so that even a shared system containerd
//! keeps its containers apart), and it touches neither iptables nor the IP forwarding setting.
//! Startup is awaited by asking the socket for `/_ping` until it answers or a deadline passes.
//!
//! Its default network is a bridge of its own (`dwpe<pid>-<n>`, with a link-local address), made
//! before it starts. Never `--bridge=none`: a `dockerd` without a bridge deletes `docker0`, the
//! machine engine's bridge, on startup (moby's `removeDefaultBridgeInterface`).
//!
//! It starts empty: [`PrivateEngine::load_test_image`] pulls the test image from the local
//! registry on 127.0.0.1 (the one `scripts/test --setup-only` starts), the only registry a test
//! may use.
//!
//! Dropping it stops the engine (gracefully, then with SIGKILL), kills what it left running (only
//! processes whose command line names its own temp dir), unmounts what it left mounted there, and
//! removes the dir and the bridge — also when the test panicked. What a test process that died
//! without unwinding left behind (its dir and bridge carry its pid) is cleaned up by the next
//! [`PrivateEngine::start`].

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// How long the engine may take to answer `/_ping` after it was started.
const START_DEADLINE: Duration = Duration::from_secs(60);

/// How long a graceful stop may take before the engine is killed.
const STOP_DEADLINE: Duration = Duration::from_secs(30);

/// How often a wait looks again at what it waits for.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// The repository the local registry serves the test image under (`scripts/lib/setup.sh`).
const REGISTRY_REPOSITORY: &str = "duo-workflow/workflow-generic-image";

/// The local registry: `DW_TEST_REGISTRY`, set by `scripts/test`, else its default.
pub fn test_registry() -> String {
    std::env::var("DW_TEST_REGISTRY").unwrap_or_else(|_| "127.0.0.1:5000".to_owned())
}

/// The test image as the local registry serves it, at `registry` (`host:port`).
pub fn registry_image_at(registry: &str) -> String {
    let image = crate::test_image();
    let tag = image.rsplit_once(':').map_or("latest", |(_, tag)| tag);
    format!("{registry}/{REGISTRY_REPOSITORY}:{tag}")
}

/// Where the private engines' dirs go, and how their names start (`<prefix><pid>-`).
const DIR_PREFIX: &str = "dw-engine-";

/// How the private engines' bridges' names start (`<prefix><pid>-<n>`, 15 bytes at most).
const BRIDGE_PREFIX: &str = "dwpe";

/// A `dockerd` of the test's own; see the module documentation.
pub struct PrivateEngine {
    dir: tempfile::TempDir,
    bridge: String,
    daemon: Option<Child>,
    storage_driver: String,
}

impl PrivateEngine {
    /// Starts an empty engine and waits until it answers.
    pub fn start() -> PrivateEngine {
        assert!(
            nix::unistd::geteuid().is_root(),
            "a private Docker engine needs root (dockerd mounts and makes namespaces)"
        );
        remove_leftovers();
        static STARTED: AtomicU32 = AtomicU32::new(0);
        let pid = std::process::id();
        // Under /tmp with a short name: the socket's path must fit in 108 bytes.
        let dir = tempfile::Builder::new()
            .prefix(&format!("{DIR_PREFIX}{pid}-"))
            .tempdir_in("/tmp")
            .expect("cannot create the private engine's dir");
        std::fs::write(dir.path().join("daemon.json"), "{}\n")
            .expect("cannot write the private engine's configuration");
        let started = STARTED.fetch_add(1, Ordering::Relaxed);
        let bridge = format!("{BRIDGE_PREFIX}{pid}-{started}");
        let made = Command::new("ip")
            .args(["link", "add", "name", &bridge, "type", "bridge"])
            .output()
            .expect("cannot run `ip` (iproute2) to make the private engine's bridge");
        assert!(
            made.status.success(),
            "cannot make the bridge {bridge}: {}",
            String::from_utf8_lossy(&made.stderr)
        );
        // A link-local address, which dockerd adopts as its default network's: no route to
        // anything, and left out wherever this host's own addresses are listed (doctor's probe).
        let address = format!("169.254.{}.1/24", 20 + (pid + 97 * started) % 200);
        let addressed = Command::new("ip")
            .args(["address", "add", &address, "dev", &bridge])
            .output()
            .expect("cannot run `ip`");
        if !addressed.status.success() {
            delete_link(&bridge);
            panic!(
                "cannot give the bridge {bridge} the address {address}: {}",
                String::from_utf8_lossy(&addressed.stderr)
            );
        }
        let mut engine = PrivateEngine {
            dir,
            bridge,
            daemon: None,
            storage_driver: machine_storage_driver(),
        };
        engine.start_again();
        engine
    }

    /// The engine's socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("docker.sock")
    }

    /// `unix://<socket>`, for `DOCKER_HOST` and `dw --host`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// The docker CLI, talking to this engine.
    pub fn docker(&self) -> Command {
        let mut command = Command::new("docker");
        command
            .env_remove("DOCKER_CONTEXT")
            .env("DOCKER_HOST", self.host());
        command
    }

    /// Runs `docker ARGS` against this engine; panics with its stderr when it fails.
    pub fn docker_ok(&self, args: &[&str]) -> String {
        let output = self
            .docker()
            .args(args)
            .output()
            .expect("the docker CLI runs");
        assert!(
            output.status.success(),
            "docker {args:?} on the private engine failed: {}\n{}",
            String::from_utf8_lossy(&output.stderr),
            self.log_tail()
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Pulls the test image from the local registry and tags it with its usual name
    /// ([`crate::test_image`]).
    pub fn load_test_image(&self) {
        let remote = registry_image_at(&test_registry());
        self.docker_ok(&["pull", "--quiet", &remote]);
        self.docker_ok(&["tag", &remote, &crate::test_image()]);
    }

    /// The IDs of every container, running or not.
    pub fn containers(&self) -> Vec<String> {
        self.docker_ok(&["ps", "-aq", "--no-trunc"])
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Whether the engine answers `/_ping` now.
    pub fn answers(&self) -> bool {
        ping(&self.socket())
    }

    /// Starts the engine again (after [`stop`](Self::stop) or [`kill`](Self::kill)), with the
    /// same data, and waits until it answers.
    pub fn start_again(&mut self) {
        assert!(self.daemon.is_none(), "the private engine is running");
        let dir = self.dir.path();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("dockerd.log"))
            .expect("cannot open the private engine's log");
        let namespace = format!(
            "dw-private-{}",
            dir.file_name().unwrap_or_default().to_string_lossy()
        );
        let host = self.host();
        let daemon = Command::new("dockerd")
            .arg("--config-file")
            .arg(dir.join("daemon.json"))
            .args(["--host", &host])
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("--pidfile")
            .arg(dir.join("docker.pid"))
            .args(["--storage-driver", &self.storage_driver])
            .args(["--bridge", &self.bridge])
            .args(["--iptables=false", "--ip-masq=false", "--ip-forward=false"])
            .args(["--containerd-namespace", &namespace])
            .args([
                "--containerd-plugins-namespace",
                &format!("{namespace}-plugins"),
            ])
            .args(["--log-level", "warn"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("the log can be shared"))
            .stderr(log)
            .spawn()
            .expect("cannot run dockerd: is Docker's engine installed?");
        self.daemon = Some(daemon);
        let deadline = Instant::now() + START_DEADLINE;
        while !self.answers() {
            if let Some(status) = self
                .daemon
                .as_mut()
                .and_then(|d| d.try_wait().ok().flatten())
            {
                self.daemon = None;
                panic!(
                    "the private engine exited ({status}) before it answered\n{}",
                    self.log_tail()
                );
            }
            assert!(
                Instant::now() < deadline,
                "the private engine did not answer /_ping within {}s\n{}",
                START_DEADLINE.as_secs(),
                self.log_tail()
            );
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Stops the engine as its service manager would (SIGTERM: it stops its containers and
    /// exits), and waits until it is gone.
    pub fn stop(&mut self) {
        self.end(Signal::SIGTERM, STOP_DEADLINE);
        assert!(
            self.daemon.is_none(),
            "the private engine did not stop within {}s",
            STOP_DEADLINE.as_secs()
        );
    }

    /// Kills the engine (SIGKILL), as a crash would, and waits until it is gone; what it ran
    /// (containerd, containers) keeps running until it is started again or dropped.
    pub fn kill(&mut self) {
        self.end(Signal::SIGKILL, STOP_DEADLINE);
    }

    /// Sends `signal` and waits up to `deadline` for the daemon to exit.
    fn end(&mut self, signal: Signal, deadline: Duration) {
        let Some(daemon) = self.daemon.as_mut() else {
            return;
        };
        if let Ok(pid) = i32::try_from(daemon.id()) {
            let _ = kill(Pid::from_raw(pid), signal);
        }
        let until = Instant::now() + deadline;
        loop {
            match daemon.try_wait() {
                Ok(Some(_)) | Err(_) => {
                    self.daemon = None;
                    return;
                }
                Ok(None) if Instant::now() >= until => return,
                Ok(None) => std::thread::sleep(POLL_INTERVAL),
            }
        }
    }

    /// The last lines of the engine's log, to explain a failure.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("dockerd.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(30)..].join("\n");
        format!(
            "private engine log ({}):\n{tail}",
            self.dir.path().display()
        )
    }
}

impl Drop for PrivateEngine {
    fn drop(&mut self) {
        self.end(Signal::SIGTERM, STOP_DEADLINE);
        self.end(Signal::SIGKILL, STOP_DEADLINE);
        clean_up(self.dir.path());
        delete_link(&self.bridge);
        // The TempDir removes the directory itself.
    }
}

/// Kills the processes that name `dir` (containerd, shims), and unmounts what is mounted there.
fn clean_up(dir: &Path) {
    for pid in processes_naming(dir) {
        let _ = kill(pid, Signal::SIGKILL);
    }
    for mount in mounts_under(dir) {
        let _ = Command::new("umount").arg("-l").arg(&mount).output();
    }
}

fn delete_link(name: &str) {
    let _ = Command::new("ip").args(["link", "del", name]).output();
}

/// Removes the dirs, processes and bridges of private engines whose test process is gone (it
/// was killed before its guards could run).
fn remove_leftovers() {
    let gone = |name: &str, prefix: &str| {
        name.strip_prefix(prefix)
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
            .is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists())
    };
    if let Ok(entries) = std::fs::read_dir("/tmp") {
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if gone(&name, DIR_PREFIX) {
                clean_up(&entry.path());
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    let links = Command::new("ip")
        .args(["-o", "link", "show", "type", "bridge"])
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
        .unwrap_or_default();
    for name in links
        .lines()
        .filter_map(|line| line.split(": ").nth(1))
        .map(|name| name.split('@').next().unwrap_or(name))
    {
        if gone(name, BRIDGE_PREFIX) {
            delete_link(name);
        }
    }
}

/// Asks the socket for `/_ping`; true when the answer is `200 OK`.
fn ping(socket: &Path) -> bool {
    let Ok(mut stream) = UnixStream::connect(socket) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200")
}

/// The storage driver the machine's engine uses (`fuse-overlayfs` where overlay cannot nest),
/// `overlay2` when it cannot be asked.
fn machine_storage_driver() -> String {
    Command::new("docker")
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_CONTEXT")
        .args(["-H", &format!("unix://{}", crate::REAL_ENGINE_SOCKET)])
        .args(["info", "--format", "{{.Driver}}"])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .filter(|driver| !driver.is_empty())
        .unwrap_or_else(|| "overlay2".to_owned())
}

/// Processes whose command line names `dir`: the private engine's containerd and shims.
fn processes_naming(dir: &Path) -> Vec<Pid> {
    let needle = dir.as_os_str().as_encoded_bytes();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let names_dir = cmdline.windows(needle.len()).any(|window| window == needle);
            (names_dir && pid != std::process::id() as i32).then(|| Pid::from_raw(pid))
        })
        .collect()
}

/// Mount points under `dir`, deepest first.
fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let table = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut mounts: Vec<PathBuf> = table
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|point| PathBuf::from(point.replace("\\040", " ")))
        .filter(|point| point.starts_with(dir))
        .collect();
    mounts.sort_by_key(|point| std::cmp::Reverse(point.components().count()));
    mounts.dedup();
    mounts
}
