//! `dw setup`, run as a user would: the real binary, a temp home, stand-ins for Homebrew and
//! Colima on PATH (`tests/shims/`) that record their arguments, this machine's real engine and
//! the local registry that `scripts/test --setup-only` starts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::SystemTime;

use dw_test_support::home::TempHome;
use dw_test_support::{REAL_ENGINE_SOCKET, test_image};
use serde_json::Value;

const SOCKET_SETTING: &str = "gitlab.duoWorkflow.dockerSocket";

/// A temp home whose PATH holds a Homebrew stand-in (in `homebrew/bin`, where `brew install`
/// links what it installs) and the two utilities the stand-ins use, nothing else.
struct World {
    home: TempHome,
    bin: PathBuf,
    tools: PathBuf,
    log: PathBuf,
}

impl World {
    fn new() -> Self {
        let world = Self::without_homebrew();
        std::os::unix::fs::symlink(shims().join("brew"), world.bin.join("brew")).unwrap();
        world
    }

    fn without_homebrew() -> Self {
        let home = TempHome::new();
        let bin = home.dir("homebrew/bin");
        let tools = home.dir("tools");
        for tool in ["mkdir", "ln"] {
            let found = ["/usr/bin", "/bin"]
                .iter()
                .map(|dir| Path::new(dir).join(tool))
                .find(|path| path.exists())
                .unwrap_or_else(|| panic!("`{tool}` is not in /usr/bin or /bin"));
            std::os::unix::fs::symlink(found, tools.join(tool)).unwrap();
        }
        let log = home.join("shim.log");
        Self {
            home,
            bin,
            tools,
            log,
        }
    }

    /// Puts Colima's stand-in on PATH, as if it had been installed before.
    fn with_colima(self) -> Self {
        std::os::unix::fs::symlink(shims().join("colima"), self.bin.join("colima")).unwrap();
        self
    }

    fn dw(&self, args: &[&str]) -> Output {
        self.command(env!("CARGO_BIN_EXE_dw"))
            .args(["setup"])
            .args(args)
            .output()
            .unwrap()
    }

    /// A command in this world: its home, its PATH of stand-ins, its call log.
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = self.home.command(program);
        command
            .env(
                "PATH",
                format!("{}:{}", self.bin.display(), self.tools.display()),
            )
            .env("DW_SHIM_LOG", &self.log)
            .env("DW_SHIMS", shims());
        command
    }

    /// Runs `dw setup ARGS` on a terminal (`script` gives it a pty) and types `answer`.
    fn dw_on_a_terminal(&self, args: &str, answer: &str) -> Output {
        let mut child = self
            .command("/usr/bin/script")
            .args(["-qfec"])
            .arg(format!("{} setup {args}", env!("CARGO_BIN_EXE_dw")))
            .arg("/dev/null")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(answer.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// Every call the stand-ins recorded, one `program args…` line each.
    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Every path under the home, for "nothing was created" checks.
    fn listing(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, into: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                into.push(path.clone());
                if path.is_dir() && !path.is_symlink() {
                    walk(&path, into);
                }
            }
        }
        let mut paths = Vec::new();
        walk(self.home.path(), &mut paths);
        paths.sort();
        paths
    }

    fn code_settings(&self) -> PathBuf {
        self.home.join(".config/Code/User/settings.json")
    }

    fn colima_socket(&self) -> String {
        self.home
            .join(".colima/default/docker.sock")
            .display()
            .to_string()
    }
}

fn shims() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/shims")
}

fn registry() -> String {
    std::env::var("DW_TEST_REGISTRY").unwrap_or_else(|_| "127.0.0.1:5000".to_owned())
}

fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .output()
        .unwrap_or_else(|error| panic!("cannot run docker {args:?}: {error}"))
}

/// The test image pushed to the local registry under a tag of this test's own, then removed
/// from the engine, so that `dw setup` makes a real pull. Dropping it removes the local tag
/// again (the test image keeps the layers).
struct RegistryImage {
    reference: String,
}

impl RegistryImage {
    fn push(tag: &str) -> Self {
        let image = Self {
            reference: format!("{}/dw-test/setup:{tag}", registry()),
        };
        for args in [
            &["tag", &test_image(), &image.reference][..],
            &["push", &image.reference],
            &["rmi", &image.reference],
        ] {
            let output = docker(args);
            assert!(
                output.status.success(),
                "docker {args:?} failed: {}\nrun `scripts/test --setup-only` to build the test \
                 image and start the registry",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        image
    }

    fn is_in_engine(&self) -> bool {
        docker(&["image", "inspect", &self.reference])
            .status
            .success()
    }
}

impl Drop for RegistryImage {
    fn drop(&mut self) {
        let _ = docker(&["rmi", &self.reference]);
    }
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "stdout is not JSON ({error}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The step's status, checking on the way that the report has the documented shape.
fn status<'a>(report: &'a Value, id: &str) -> &'a str {
    let mut keys: Vec<&str> = report
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["runtime", "steps"], "{report}");
    let ids: Vec<&str> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| step["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["install", "start", "pull", "settings"], "{report}");
    let step = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|step| step["id"] == id)
        .unwrap();
    let mut keys: Vec<&str> = step
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["commands", "error", "files", "id", "status", "summary"],
        "{step}"
    );
    step["status"].as_str().unwrap()
}

fn step<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|step| step["id"] == id)
        .unwrap()
}

fn setting(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let value: Value = serde_json::from_str(&text).ok()?;
    value[SOCKET_SETTING].as_str().map(str::to_owned)
}

fn modified(path: &Path) -> SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

/// The limits the issue specifies, computed here from the host's numbers.
fn expected_limits() -> (u64, u64) {
    let host = dw_runtime::host::HostFacts::detect();
    let cpus = (host.cpus / 2).max(2);
    let memory = (host.memory_bytes / 4 / (1 << 30)).clamp(2, 8);
    (cpus, memory)
}

#[test]
fn a_fresh_home_is_set_up_and_a_second_run_changes_nothing() {
    let world = World::new();
    let image = RegistryImage::push("fresh-home");
    assert!(!image.is_in_engine());

    let first = world.dw(&["--yes", "--json", "--image", &image.reference]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let report = json(&first);
    assert_eq!(report["runtime"]["kind"], "colima");
    assert_eq!(report["runtime"]["socket"], world.colima_socket());
    for id in ["install", "start", "pull", "settings"] {
        assert_eq!(status(&report, id), "done", "{id}: {report}");
    }
    let (cpus, memory) = expected_limits();
    assert_eq!(
        world.calls(),
        [
            "brew install colima docker".to_owned(),
            format!("colima start --cpu {cpus} --memory {memory} --disk 60"),
        ]
    );
    assert!(image.is_in_engine(), "the image was not pulled");
    assert!(
        step(&report, "pull")["summary"]
            .as_str()
            .unwrap()
            .contains("@sha256:"),
        "{report}"
    );
    assert_eq!(
        setting(&world.code_settings()).as_deref(),
        Some(world.colima_socket().as_str())
    );
    let bytes = std::fs::read(world.code_settings()).unwrap();
    let mtime = modified(&world.code_settings());

    let second = world.dw(&["--yes", "--json", "--image", &image.reference]);
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    let report = json(&second);
    for id in ["install", "start", "pull", "settings"] {
        assert_eq!(status(&report, id), "already", "{id}: {report}");
    }
    assert_eq!(world.calls().len(), 2, "{:?}", world.calls());
    assert_eq!(std::fs::read(world.code_settings()).unwrap(), bytes);
    assert_eq!(modified(&world.code_settings()), mtime);
}

#[test]
fn a_dry_run_shows_the_commands_and_the_diff_and_changes_nothing() {
    let world = World::new();
    let before = world.listing();
    let output = world.dw(&["--dry-run", "--cpus", "3", "--memory", "6", "--disk", "80"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(world.listing(), before, "the dry run created files");
    assert_eq!(world.calls(), Vec::<String>::new());
    let text = String::from_utf8_lossy(&output.stdout);
    let home = world.home.path().display().to_string();
    insta::with_settings!({filters => vec![(home.as_str(), "[HOME]")]}, {
        insta::assert_snapshot!(text);
    });

    // With Colima installed, the dry run asks it whether it runs, and nothing else.
    let world = World::new().with_colima();
    let output = world.dw(&["--dry-run", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report = json(&output);
    for id in ["install", "start", "pull", "settings"] {
        assert_eq!(status(&report, id), "planned", "{id}");
    }
    assert_eq!(step(&report, "install")["commands"][0][2], "docker");
    assert_eq!(world.calls(), ["colima status"]);
    assert!(!world.code_settings().exists());
    assert!(!world.home.join(".colima").exists());
}

#[test]
fn a_running_rancher_desktop_is_adopted_and_nothing_is_installed() {
    let world = World::new();
    world.home.symlink(".rd/docker.sock", REAL_ENGINE_SOCKET);
    let image = test_image();
    let output = world.dw(&["--json", "--image", &image]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report = json(&output);
    let socket = world.home.join(".rd/docker.sock").display().to_string();
    assert_eq!(report["runtime"]["kind"], "rancher-desktop");
    assert_eq!(report["runtime"]["socket"], socket);
    assert_eq!(status(&report, "install"), "skipped");
    assert_eq!(status(&report, "start"), "skipped");
    assert!(
        step(&report, "install")["summary"]
            .as_str()
            .unwrap()
            .contains("Rancher Desktop is already running"),
        "{report}"
    );
    assert_eq!(status(&report, "pull"), "already");
    assert_eq!(status(&report, "settings"), "done");
    assert_eq!(setting(&world.code_settings()), Some(socket));
    assert_eq!(world.calls(), Vec::<String>::new());
}

#[test]
fn comments_are_kept_in_two_flavours_and_a_malformed_file_fails_alone() {
    let world = World::new();
    let commented = "{\n    // my theme\n    \"workbench.colorTheme\": \"Solarized\", // keep\n}\n";
    let code = world.home.vscode_settings("Code", commented);
    let cursor = world
        .home
        .vscode_settings("Cursor", "/* cursor */\n{\"editor.fontSize\": 13}\n");
    let broken_text = "{\n  \"a\": 1\n  \"b\": 2\n}\n";
    let broken = world.home.vscode_settings("VSCodium", broken_text);
    let broken_mtime = modified(&broken);

    let output = world.dw(&["--only", "settings", "--socket", REAL_ENGINE_SOCKET]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("settings  failed"), "{text}");
    assert!(text.contains(&broken.display().to_string()), "{text}");
    assert!(text.contains("line 2, column 9"), "{text}");
    assert!(!text.contains("(unchanged)"), "{text}");

    assert_eq!(std::fs::read_to_string(&broken).unwrap(), broken_text);
    assert_eq!(modified(&broken), broken_mtime);
    assert_eq!(
        std::fs::read_to_string(&code).unwrap(),
        "{\n    // my theme\n    \"workbench.colorTheme\": \"Solarized\", // keep\n    \
         \"gitlab.duoWorkflow.dockerSocket\": \"/var/run/docker.sock\",\n}\n"
    );
    let cursor_text = std::fs::read_to_string(&cursor).unwrap();
    assert!(cursor_text.starts_with("/* cursor */\n"), "{cursor_text}");
    assert!(
        cursor_text.contains("\"gitlab.duoWorkflow.dockerSocket\": \"/var/run/docker.sock\""),
        "{cursor_text}"
    );
    assert_eq!(world.calls(), Vec::<String>::new());
}

#[test]
fn only_settings_with_a_socket_writes_the_given_file_and_nothing_else() {
    let world = World::new();
    let file = world.home.join("elsewhere/settings.json");
    let socket = world.home.join("engine.sock");
    let args = [
        "--json",
        "--only",
        "settings",
        "--socket",
        socket.to_str().unwrap(),
        "--settings-file",
        file.to_str().unwrap(),
    ];
    let output = world.dw(&args);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report = json(&output);
    assert_eq!(report["runtime"]["socket"], socket.display().to_string());
    for id in ["install", "start", "pull"] {
        assert_eq!(status(&report, id), "skipped", "{id}");
    }
    assert_eq!(status(&report, "settings"), "done");
    let files = step(&report, "settings")["files"].as_array().unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0]["path"], file.display().to_string());
    assert!(
        files[0]["diff"]
            .as_str()
            .unwrap()
            .starts_with("--- /dev/null\n")
    );
    assert_eq!(setting(&file), Some(socket.display().to_string()));
    assert!(
        !world.code_settings().exists(),
        "only the given file is written"
    );
    assert_eq!(world.calls(), Vec::<String>::new());

    let mtime = modified(&file);
    let again = world.dw(&args);
    assert_eq!(status(&json(&again), "settings"), "already");
    assert_eq!(modified(&file), mtime);
}

#[test]
fn skip_pull_sets_up_everything_but_the_image() {
    let world = World::new();
    let output = world.dw(&["--yes", "--json", "--skip", "pull", "--cpus", "2"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report = json(&output);
    assert_eq!(status(&report, "pull"), "skipped");
    assert_eq!(step(&report, "pull")["summary"], "skipped: --skip pull");
    for id in ["install", "start", "settings"] {
        assert_eq!(status(&report, id), "done", "{id}");
    }
    assert!(
        world.calls()[1].starts_with("colima start --cpu 2 "),
        "{:?}",
        world.calls()
    );
}

#[test]
fn a_failed_pull_says_why_and_leaves_the_other_steps_done() {
    let world = World::new();
    let missing = format!("{}/dw-test/setup:no-such-tag", registry());
    let output = world.dw(&[
        "--json",
        "--socket",
        REAL_ENGINE_SOCKET,
        "--image",
        &missing,
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report = json(&output);
    assert_eq!(status(&report, "pull"), "failed");
    let error = step(&report, "pull")["error"].as_str().unwrap();
    assert!(error.contains("was not found"), "{error}");
    assert_eq!(status(&report, "settings"), "done");
    assert_eq!(
        setting(&world.code_settings()).as_deref(),
        Some(REAL_ENGINE_SOCKET)
    );
}

#[test]
fn installing_needs_yes_when_nobody_can_be_asked() {
    let world = World::new();
    let output = world.dw(&[]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains("brew install colima docker"), "{message}");
    assert!(message.contains("--yes"), "{message}");
    assert_eq!(world.calls(), Vec::<String>::new());
    assert!(!world.code_settings().exists());
}

#[test]
fn without_homebrew_setup_stops_with_the_commands_to_run() {
    let world = World::without_homebrew();
    let output = world.dw(&["--yes"]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains("Homebrew (`brew`)"), "{message}");
    assert!(
        message.contains("  brew install colima docker"),
        "{message}"
    );
    assert!(!world.code_settings().exists());
}

#[test]
fn a_requested_runtime_that_is_not_running_is_an_environment_error() {
    let world = World::new();
    let output = world.dw(&["--runtime", "orbstack", "--json"]);
    assert_eq!(output.status.code(), Some(2));
    let report = json(&output);
    let causes = report["error"]["causes"].to_string();
    assert!(causes.contains("OrbStack is not running"), "{report}");
    assert_eq!(world.calls(), Vec::<String>::new());
}

#[test]
fn on_a_terminal_setup_asks_before_installing_and_no_changes_nothing() {
    let world = World::new();
    let output = world.dw_on_a_terminal("--only install", "n\n");
    let screen = String::from_utf8_lossy(&output.stdout);
    assert!(
        screen.contains("dw setup will run `brew install colima docker`. Proceed? [y/N]"),
        "{screen}"
    );
    assert!(
        screen.contains("nothing was installed or changed"),
        "{screen}"
    );
    assert_eq!(output.status.code(), Some(2), "{screen}");
    assert_eq!(world.calls(), Vec::<String>::new());
}

#[test]
fn on_a_terminal_yes_installs_what_is_missing() {
    let world = World::new();
    let output = world.dw_on_a_terminal("--only install", "y\n");
    let screen = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{screen}");
    assert_eq!(world.calls(), vec!["brew install colima docker".to_owned()]);
}
