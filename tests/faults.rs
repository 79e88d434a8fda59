#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Fault injection: dw loses nothing when the world breaks under it.
//!
//! The engine stops in the middle of a pull and of a workflow (a private engine the test starts,
//! stops and starts again, never the machine's), `dw setup` is killed with SIGKILL while it
//! writes a settings file, the state directory's disk fills up, and the executor is killed in
//! its sandbox. Each test checks what the user sees, that what was on disk is intact, and that
//! the work can go on once the fault is gone.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

use dw_test_support::agent::dw_agent_binary;
use dw_test_support::home::TempHome;
use dw_test_support::private_engine::{PrivateEngine, registry_image_at, test_registry};
use dw_test_support::proxy::HoldingProxy;
use dw_test_support::test_image;
use dw_test_support::watch::{Appeared, DirWatch};
use serde_json::{Value, json};

const SOCKET_SETTING: &str = "gitlab.duoWorkflow.dockerSocket";

fn dw_binary() -> &'static str {
    env!("CARGO_BIN_EXE_dw")
}

fn explain(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("stdout is not JSON ({error}):\n{}", explain(output)))
}

fn step<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|step| step["id"] == id)
        .unwrap_or_else(|| panic!("no step {id} in {report}"))
}

fn modified(path: &Path) -> SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

/// The names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn the_engine_stopping_mid_pull_fails_the_step_clearly_and_a_rerun_completes() {
    let mut engine = PrivateEngine::start();
    let registry: SocketAddr = test_registry().parse().unwrap();
    // The engine pulls through a proxy that holds the transfer once a blob is under way.
    let proxy = HoldingProxy::hold_after(registry, 1 << 20);
    let image = registry_image_at(&proxy.address().to_string());
    let home = TempHome::new();
    let socket = engine.socket().display().to_string();
    let settings = home.file(
        "vscode/settings.json",
        format!(
            "{{\n    // mine, by hand\n    \"editor.fontSize\": 13, // keep\n    \"{SOCKET_SETTING}\": \"{socket}\"\n}}\n"
        ),
    );
    let bytes = std::fs::read(&settings).unwrap();
    let mtime = modified(&settings);
    let setup = || {
        let mut command = home.command(dw_binary());
        command
            .args(["setup", "--json", "--socket", &socket, "--image", &image])
            .arg("--settings-file")
            .arg(&settings)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    };

    let pulling = setup().spawn().unwrap();
    assert!(
        proxy.wait_until_holding(Duration::from_secs(120)),
        "the pull never got under way\n{}",
        engine.log_tail()
    );
    let stopped = Instant::now();
    engine.stop();
    let output = pulling.wait_with_output().unwrap();
    let after_stop = stopped.elapsed();
    assert_eq!(output.status.code(), Some(1), "{}", explain(&output));
    let report = json(&output);
    let pull = step(&report, "pull");
    assert_eq!(pull["status"], "failed", "{report}");
    let error = pull["error"].as_str().unwrap();
    assert!(
        error.contains(&format!(
            "the engine at {} stopped answering in the middle of the pull of {image}",
            engine.host()
        )),
        "{error}"
    );
    assert!(error.contains("then run `dw setup --only pull`"), "{error}");
    assert!(
        after_stop < Duration::from_secs(30),
        "dw took {after_stop:?} to notice"
    );
    assert_eq!(step(&report, "settings")["status"], "already", "{report}");

    proxy.pass_through();
    engine.start_again();
    let output = setup().output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", explain(&output));
    let report = json(&output);
    assert_eq!(step(&report, "pull")["status"], "done", "{report}");
    engine.docker_ok(&["image", "inspect", &image]);

    assert_eq!(std::fs::read(&settings).unwrap(), bytes);
    assert_eq!(modified(&settings), mtime);
    assert_eq!(names(settings.parent().unwrap()), ["settings.json"]);
}

/// A `dw setup --only settings` on a large settings file, killed with SIGKILL at random points
/// of its write: from the moment its first temporary file appears (the backup's) to the end of
/// the write as measured on uninterrupted runs.
#[test]
fn kill_9_during_the_settings_write_leaves_the_old_or_the_new_bytes() {
    const KILLS: usize = 200;
    let home = TempHome::new();
    let dir = home.dir("settings");
    let settings = dir.join("settings.json");
    let socket = "/run/dw-fault-test/docker.sock";
    // One long string keeps the parse short next to the write, so runs are short and most of
    // each run's time after the first temporary file is the write itself.
    let old = format!(
        "{{\n    // mine, by hand\n    \"editor.fontSize\": 13, // keep\n    \"blob\": \"{}\"\n}}\n",
        "x".repeat(256 << 10)
    )
    .into_bytes();
    let watch = DirWatch::new(&dir);
    let reset = || {
        for name in names(&dir) {
            std::fs::remove_file(dir.join(name)).unwrap();
        }
        std::fs::write(&settings, &old).unwrap();
        watch.drain();
    };
    let setup = || {
        home.command(dw_binary())
            .args(["setup", "--json", "--only", "settings", "--socket", socket])
            .arg("--settings-file")
            .arg(&settings)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    // Waits for the first temporary file of the write: when it appeared, and the names that
    // appeared with it (a late wake-up sees several at once).
    let write_begins = |watch: &DirWatch, child: &mut Child| -> (Instant, Vec<Appeared>) {
        let appeared = watch.next(Duration::from_secs(60));
        assert!(
            !appeared.is_empty(),
            "dw setup wrote nothing within 60s (exit: {:?})",
            child.try_wait()
        );
        (Instant::now(), appeared)
    };
    let replaced = |appeared: &[Appeared]| {
        appeared
            .iter()
            .any(|name| name.renamed && name.name == "settings.json")
    };

    // An uninterrupted run: how long its write took (unknown when the test woke up only after
    // it), and the bytes it wrote.
    let measure = || {
        reset();
        let mut child = setup();
        let (began, first) = write_begins(&watch, &mut child);
        let mut appeared = first.clone();
        while !replaced(&appeared) {
            appeared = watch.next(Duration::from_secs(60));
            assert!(!appeared.is_empty(), "the write did not finish within 60s");
        }
        let window = (!replaced(&first)).then(|| began.elapsed());
        assert!(child.wait().unwrap().success());
        (window, std::fs::read(&settings).unwrap())
    };
    let mut windows: Vec<Duration> = Vec::new();
    let mut new = Vec::new();
    for _ in 0..20 {
        let (window, bytes) = measure();
        windows.extend(window);
        new = bytes;
        if windows.len() == 3 {
            break;
        }
    }
    assert!(!windows.is_empty(), "the test never woke up during a write");
    assert_ne!(new, old);
    let text = String::from_utf8(new.clone()).unwrap();
    assert!(text.contains(&format!("\"{SOCKET_SETTING}\": \"{socket}\"")));
    assert!(text.starts_with("{\n    // mine, by hand\n"));

    let mut random = Random::seeded();
    let mut outcomes = Outcomes::default();
    // At least KILLS kills; more if too few landed on either side of the rename, up to a limit.
    // The write's duration is measured again every 25 kills: it follows the machine's load.
    while outcomes.total() < KILLS || !outcomes.enough() {
        let window = recent_median(&windows);
        assert!(
            outcomes.total() < 5 * KILLS,
            "the kills do not land inside the {window:?} write (seed {}): {outcomes:?}",
            random.seed
        );
        if outcomes.total() % 25 == 24 {
            let (window, bytes) = measure();
            assert_eq!(bytes, new);
            windows.extend(window);
        }
        reset();
        let mut child = setup();
        write_begins(&watch, &mut child);
        // Spread over the write and a little after it.
        std::thread::sleep(window.mul_f64(random.unit() * 1.2));
        let _ = child.kill();
        child.wait().unwrap();
        let now = std::fs::read(&settings).unwrap();
        let backup = dir.join("settings.json.dw-backup");
        if backup.exists() {
            assert!(
                std::fs::read(&backup).unwrap() == old,
                "the backup holds other bytes than the old file (seed {})",
                random.seed
            );
        }
        if now == new {
            outcomes.new += 1;
        } else if now != old {
            panic!(
                "after a kill the file holds {} bytes that are neither the old nor the new ones \
                 (seed {})",
                now.len(),
                random.seed
            );
        } else if backup.exists() {
            outcomes.old_backup_made += 1;
        } else if names(&dir).iter().any(|name| name.ends_with(".dw-tmp")) {
            outcomes.old_backup_partly += 1;
        } else {
            outcomes.old_untouched += 1;
        }
    }
    eprintln!(
        "{} kills over writes of {windows:?} (seed {}): {outcomes:?}",
        outcomes.total(),
        random.seed
    );

    // After the last kill, whatever it left, a run completes.
    let output = home
        .command(dw_binary())
        .args(["setup", "--json", "--only", "settings", "--socket", socket])
        .arg("--settings-file")
        .arg(&settings)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", explain(&output));
    assert_eq!(std::fs::read(&settings).unwrap(), new);
}

/// The median of the last three durations.
fn recent_median(durations: &[Duration]) -> Duration {
    let mut recent = durations[durations.len().saturating_sub(3)..].to_vec();
    recent.sort();
    recent[recent.len() / 2]
}

/// Where the kills landed, as the directory shows it afterwards.
#[derive(Debug, Default)]
struct Outcomes {
    /// The file held its old bytes and nothing else was there (killed before the write).
    old_untouched: usize,
    /// The file held its old bytes; the backup's temporary file was left half-written.
    old_backup_partly: usize,
    /// The file held its old bytes; the backup was in place (and maybe the new bytes' temporary
    /// file, half-written).
    old_backup_made: usize,
    /// The file held its new bytes (killed after the rename).
    new: usize,
}

impl Outcomes {
    fn total(&self) -> usize {
        self.old_untouched + self.old_backup_partly + self.old_backup_made + self.new
    }

    /// Enough kills landed inside the write, and after it.
    fn enough(&self) -> bool {
        self.old_backup_partly + self.old_backup_made >= 40 && self.new >= 20
    }
}

/// xorshift64*: enough randomness for kill times, and a seed to print.
struct Random {
    seed: u64,
    state: u64,
}

impl Random {
    fn seeded() -> Random {
        let seed = std::env::var("DW_FAULT_SEED")
            .ok()
            .and_then(|seed| seed.parse().ok())
            .unwrap_or_else(|| {
                SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
                    | 1
            });
        Random { seed, state: seed }
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        let value = self.state.wrapping_mul(0x2545_f491_4f6c_dd1d);
        (value >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A project, a home and a state directory for `dw run`, on the machine's engine or a private
/// one; removes the sandboxes of its workflows on drop.
struct World {
    home: TempHome,
    project: PathBuf,
    state: PathBuf,
    /// `--host` for dw; `None`: the machine's engine.
    host: Option<String>,
}

impl World {
    fn new() -> World {
        World::with_host(None)
    }

    fn on(host: String) -> World {
        World::with_host(Some(host))
    }

    fn with_host(host: Option<String>) -> World {
        let home = TempHome::new();
        let project = home.dir("project");
        let state = home.dir("state");
        World {
            home,
            project,
            state,
            host,
        }
    }

    fn script(&self, turns: &[Value]) -> PathBuf {
        let path = self.home.join("script.jsonl");
        let text: Vec<String> = turns.iter().map(Value::to_string).collect();
        std::fs::write(&path, text.join("\n") + "\n").unwrap();
        path
    }

    fn dw(&self) -> Command {
        let mut command = self.home.command(dw_binary());
        if let Some(host) = &self.host {
            command.args(["--host", host]);
        }
        command
            .env("DW_STATE_DIR", &self.state)
            .env("DW_AGENT", dw_agent_binary())
            .env("NO_COLOR", "1")
            .env_remove("ANTHROPIC_API_KEY")
            .env_remove("OPENAI_API_KEY")
            .env_remove("GITLAB_TOKEN")
            .stdin(Stdio::null());
        command
    }

    /// `dw run --json --yes` with `script`, its output read until `until` holds for a record.
    fn run_until(&self, script: &Path, until: impl Fn(&Value) -> bool) -> Running {
        let mut child = self
            .dw()
            .args([
                "run",
                "Go through the faults",
                "--json",
                "--yes",
                "--workspace",
            ])
            .arg(&self.project)
            .args(["--image", &test_image(), "--script"])
            .arg(script)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut running = Running {
            child: Some(child),
            stdout,
            records: Vec::new(),
        };
        loop {
            let Some(record) = running.next_record() else {
                let (records, output) = running.finish();
                panic!(
                    "dw ended before the awaited record; records: {records:?}\n{}",
                    explain(&output)
                );
            };
            if until(&record) {
                return running;
            }
        }
    }

    fn workflow_ids(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.state.join("workflows")) else {
            return Vec::new();
        };
        let mut ids: Vec<String> = entries
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        ids.sort();
        ids
    }

    fn only_workflow(&self) -> String {
        let ids = self.workflow_ids();
        assert_eq!(ids.len(), 1, "{ids:?}");
        ids[0].clone()
    }

    fn events_path(&self, id: &str) -> PathBuf {
        self.state.join("workflows").join(id).join("events.jsonl")
    }

    /// `events.jsonl`, every line of which must be a whole JSON record.
    fn events(&self, id: &str) -> Vec<Value> {
        let text = std::fs::read_to_string(self.events_path(id)).unwrap();
        assert!(
            text.ends_with('\n'),
            "events.jsonl ends in a torn line: {:?}",
            &text[text.rfind('\n').map_or(0, |at| at + 1)..]
        );
        text.lines()
            .enumerate()
            .map(|(index, line)| {
                serde_json::from_str(line).unwrap_or_else(|error| {
                    panic!(
                        "events.jsonl line {} is not JSON ({error}): {line}",
                        index + 1
                    )
                })
            })
            .collect()
    }

    fn docker(&self) -> Command {
        let mut command = Command::new("docker");
        command.env_remove("DOCKER_CONTEXT");
        match &self.host {
            Some(host) => command.env("DOCKER_HOST", host),
            None => command.env_remove("DOCKER_HOST"),
        };
        command
    }

    fn containers(&self, id: &str) -> Vec<String> {
        let output = self
            .docker()
            .args(["ps", "-aq", "--filter"])
            .arg(format!("label=dev.dw.workflow={id}"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn resume(&self, id: &str) -> Output {
        self.dw()
            .args(["workflows", "resume", id, "--json", "--yes"])
            .output()
            .unwrap()
    }
}

impl Drop for World {
    fn drop(&mut self) {
        for id in self.workflow_ids() {
            let containers = self.containers(&id);
            if !containers.is_empty() {
                let _ = self
                    .docker()
                    .args(["rm", "-f", "-v"])
                    .args(&containers)
                    .output();
            }
        }
    }
}

/// A `dw run` under way, its output read up to the record awaited; killed on drop unless it
/// was waited for.
struct Running {
    child: Option<Child>,
    stdout: BufReader<ChildStdout>,
    records: Vec<Value>,
}

impl Running {
    /// The next record dw printed, kept; `None` at the end of its output.
    fn next_record(&mut self) -> Option<Value> {
        let mut line = String::new();
        if self.stdout.read_line(&mut line).unwrap_or(0) == 0 {
            return None;
        }
        let record: Value =
            serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        self.records.push(record.clone());
        Some(record)
    }

    /// Waits for dw to exit; the records it printed, all of them, and its output.
    fn finish(mut self) -> (Vec<Value>, Output) {
        while self.next_record().is_some() {}
        let child = self.child.take().unwrap();
        let output = child.wait_with_output().unwrap();
        (std::mem::take(&mut self.records), output)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn records_of<'a>(records: &'a [Value], kind: &str) -> Vec<&'a Value> {
    records
        .iter()
        .filter(|record| record["type"] == kind)
        .collect()
}

fn json_lines(output: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect()
}

fn is_call_of(record: &Value, tool: &str) -> bool {
    record["type"] == "tool_call" && record["tool"] == tool
}

/// A plan, a command that blocks (`sleep 600`), then a file written and the end.
fn blocking_script(world: &World) -> PathBuf {
    world.script(&[
        json!({"tool_calls": [{"name": "create_plan", "input": {"steps": [{"title": "Wait"}, {"title": "Write"}]}}]}),
        json!({"tool_calls": [{"name": "run_command", "input": {"program": "sleep", "args": ["600"]}}]}),
        json!({"tool_calls": [{"name": "write_file", "input": {"path": "after.txt", "content": "went on\n"}}]}),
        json!({"tool_calls": [{"name": "finish", "input": {"summary": "Went on after the fault."}}]}),
    ])
}

/// The record of the `sleep 600` that was running when the sandbox went away.
fn assert_interrupted(record: &Value) {
    assert_eq!(record["type"], "tool_result", "{record}");
    assert_eq!(record["tool"], "run_command", "{record}");
    assert_eq!(record["ok"], false, "{record}");
    assert!(
        record["output"]
            .as_str()
            .unwrap()
            .starts_with("interrupted: the sandbox stopped while this ran"),
        "{record}"
    );
}

/// What a resumed workflow must show: it finished, did the rest of its work, and left nothing.
fn assert_went_on(world: &World, id: &str, output: &Output) {
    assert_eq!(output.status.code(), Some(0), "{}", explain(output));
    let records = json_lines(output);
    assert_eq!(records.last().unwrap()["status"], "finished", "{records:?}");
    assert_eq!(
        std::fs::read_to_string(world.project.join("after.txt")).unwrap(),
        "went on\n"
    );
    let events = world.events(id);
    assert_eq!(
        records_of(&events, "status").last().unwrap()["status"],
        "finished"
    );
    assert!(world.containers(id).is_empty(), "a sandbox was left");
}

/// The resumed run told the model that its `sleep 600` was interrupted, and did not run it again.
fn assert_not_run_again(output: &Output) {
    let records = json_lines(output);
    let commands = records
        .iter()
        .filter(|record| is_call_of(record, "run_command"))
        .count();
    assert_eq!(commands, 0, "{records:?}");
}

#[test]
fn the_engine_stopping_mid_workflow_fails_it_with_the_reason_and_resume_finishes_it() {
    let mut engine = PrivateEngine::start();
    engine.load_test_image();
    let world = World::on(engine.host());
    let script = blocking_script(&world);
    let running = world.run_until(&script, |record| is_call_of(record, "run_command"));
    let id = world.only_workflow();
    assert_eq!(world.containers(&id).len(), 1);
    let before = world.events(&id);

    engine.stop();
    let (records, output) = running.finish();
    assert_eq!(output.status.code(), Some(2), "{}", explain(&output));
    let last = records.last().unwrap();
    assert_eq!(last["status"], "failed", "{records:?}");
    let reason = last["reason"].as_str().unwrap();
    assert_eq!(
        reason,
        format!(
            "the container engine at {} stopped answering while `run_command` ran; start it \
             again, then `dw workflows resume {id}` goes on in a new sandbox",
            engine.host()
        )
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("cannot connect to {}", engine.host())),
        "{stderr}"
    );
    // Every record from before the stop is still there, in order; then the action's failure,
    // then the workflow's.
    let events = world.events(&id);
    assert_eq!(events[..before.len()], before[..]);
    assert_interrupted(&events[before.len()]);
    assert_eq!(events[before.len() + 1]["reason"], reason);
    assert_eq!(events.len(), before.len() + 2);

    engine.start_again();
    let output = world.resume(&id);
    assert_went_on(&world, &id, &output);
    assert_not_run_again(&output);
    assert!(engine.containers().is_empty(), "{:?}", engine.containers());
}

#[test]
fn the_executor_killed_in_its_sandbox_fails_the_action_cleanly_and_resume_goes_on() {
    let world = World::new();
    let script = blocking_script(&world);
    let running = world.run_until(&script, |record| is_call_of(record, "run_command"));
    let id = world.only_workflow();
    let containers = world.containers(&id);
    assert_eq!(containers.len(), 1);

    let before = world.events(&id);
    let killed = world
        .docker()
        .args(["exec", &containers[0], "pkill", "-KILL", "-x", "dw-agent"])
        .output()
        .unwrap();
    // pkill itself may die with the container, which ends when its executor does.
    assert!(
        matches!(killed.status.code(), Some(0 | 137)),
        "{}",
        explain(&killed)
    );
    let (records, output) = running.finish();
    assert_eq!(output.status.code(), Some(2), "{}", explain(&output));
    let last = records.last().unwrap();
    assert_eq!(last["status"], "failed", "{records:?}");
    assert_eq!(
        last["reason"],
        format!(
            "the executor in the sandbox stopped while `run_command` ran (its output ended); \
             `dw workflows resume {id}` goes on in a new sandbox"
        )
    );
    let events = world.events(&id);
    assert_interrupted(&events[before.len()]);
    assert_eq!(events.len(), before.len() + 2);
    assert!(
        world.containers(&id).is_empty(),
        "the dead sandbox was left"
    );

    let output = world.resume(&id);
    assert_went_on(&world, &id, &output);
    assert_not_run_again(&output);
}

/// A tmpfs mounted for one test; unmounted on drop.
struct SmallDisk {
    path: PathBuf,
}

impl SmallDisk {
    fn mount(path: &Path, size: &str) -> SmallDisk {
        let output = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(path)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "cannot mount a tmpfs (this test needs root): {}",
            String::from_utf8_lossy(&output.stderr)
        );
        SmallDisk {
            path: path.to_owned(),
        }
    }

    /// Writes a file until the disk is full; returns it.
    fn fill(&self) -> PathBuf {
        let path = self.path.join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let block = vec![0u8; 4096];
        loop {
            match file.write(&block) {
                Ok(0) => break,
                Ok(_) => {}
                Err(error) if error.raw_os_error() == Some(28) => break,
                Err(error) => panic!("filling the disk failed: {error}"),
            }
        }
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).output();
    }
}

#[test]
fn a_full_disk_stops_the_run_with_a_clear_error_and_the_event_log_stays_whole() {
    let world = World::new();
    let disk = SmallDisk::mount(&world.state, "1m");
    let gate = world.project.join("gate");
    let made = Command::new("mkfifo").arg(&gate).status().unwrap();
    assert!(made.success());
    // The command holds until the test has filled the disk; the next one prints more than any
    // page of slack can take.
    let script = world.script(&[
        json!({"tool_calls": [{"name": "create_plan", "input": {"steps": [{"title": "Fill the log"}]}}]}),
        json!({"tool_calls": [{"name": "run_command", "input": {"program": "cat", "args": ["gate"]}}]}),
        json!({"tool_calls": [{"name": "run_command", "input": {"program": "sh", "args": ["-c", "head -c 20000 /dev/zero | tr '\\0' a"]}}]}),
        json!({"tool_calls": [{"name": "write_file", "input": {"path": "after.txt", "content": "went on\n"}}]}),
        json!({"tool_calls": [{"name": "finish", "input": {"summary": "Went on after the fault."}}]}),
    ]);
    let running = world.run_until(&script, |record| {
        is_call_of(record, "run_command") && record["input"]["program"] == "cat"
    });
    let id = world.only_workflow();
    let filler = disk.fill();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&gate)
        .unwrap()
        .write_all(b"open\n")
        .unwrap();
    let (records, output) = running.finish();
    assert_eq!(output.status.code(), Some(2), "{}", explain(&output));
    let error = &records.last().unwrap()["error"];
    assert!(
        error["message"].as_str().unwrap().contains(&format!(
            "workflow {id} stopped because its state could not be recorded"
        )),
        "{error}"
    );
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains(&format!("`dw workflows resume {id}`")),
        "{error}"
    );
    let cause = error["causes"][0].as_str().unwrap();
    assert!(
        cause.contains(&format!(
            "cannot append to {}: No space left on device",
            world.events_path(&id).display()
        )),
        "{error}"
    );
    // Every line whole: the append that did not fit was taken back.
    let events = world.events(&id);
    assert!(!events.is_empty());
    assert!(world.containers(&id).is_empty(), "a sandbox was left");
    let show = world
        .dw()
        .args(["workflows", "show", &id, "--json"])
        .output()
        .unwrap();
    assert_eq!(show.status.code(), Some(0), "{}", explain(&show));

    std::fs::remove_file(filler).unwrap();
    let output = world.resume(&id);
    assert_went_on(&world, &id, &output);
}
