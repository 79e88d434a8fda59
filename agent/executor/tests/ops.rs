//! Every op, through the real binary, against a temporary workspace.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;

use dw_protocol::request::{
    Cancel, EditFile, FindFiles, Git, Grep, Hello, ListDir, Mkdir, ReadFile, RunCommand, Shutdown,
    WriteFile,
};
use dw_protocol::result::{DirEntry, EntryKind, GrepMatch};
use dw_protocol::{ErrorKind, Failure, Outgoing, Stream};
use support::World;

fn kind<T: std::fmt::Debug>(result: Result<T, Failure>) -> ErrorKind {
    result.unwrap_err().kind
}

fn read(path: &str) -> ReadFile {
    ReadFile {
        path: path.into(),
        ..ReadFile::default()
    }
}

#[test]
fn hello_names_the_executor() {
    let world = World::new();
    let mut agent = world.start();
    let hello = agent.call(Hello {}).unwrap();
    assert_eq!(hello.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(hello.root, world.root().display().to_string());
    assert_eq!(hello.pid, agent.pid());
}

#[test]
fn read_file_returns_text_ranges_and_refuses_the_rest() {
    let world = World::new();
    world
        .file("root/src/main.rs", "fn main() {}\n")
        .file("root/image.png", [0x89, b'P', b'N', b'G', 0xFF]);
    let mut agent = world.start();
    let whole = agent.call(read("src/main.rs")).unwrap();
    assert_eq!(
        (whole.content.as_str(), whole.size, whole.truncated),
        ("fn main() {}\n", 13, false)
    );
    let absolute = world.root().join("src/main.rs").display().to_string();
    assert_eq!(agent.call(read(&absolute)).unwrap().content, whole.content);
    let range = agent
        .call(ReadFile {
            path: "src/main.rs".into(),
            offset: Some(3),
            limit: Some(4),
        })
        .unwrap();
    assert_eq!((range.content.as_str(), range.truncated), ("main", true));
    assert_eq!(kind(agent.call(read("image.png"))), ErrorKind::Binary);
    assert_eq!(kind(agent.call(read("missing.txt"))), ErrorKind::NotFound);
    assert_eq!(kind(agent.call(read("src"))), ErrorKind::IsADirectory);
    assert_eq!(
        kind(agent.call(read("src/main.rs/x"))),
        ErrorKind::NotADirectory
    );
}

#[test]
fn write_file_creates_directories_and_replaces_atomically() {
    let world = World::new();
    world.file("root/old.txt", "old");
    let mut agent = world.start();
    let written = agent
        .call(WriteFile {
            path: "new/dir/file.txt".into(),
            content: "héllo\n".into(),
            create_dirs: true,
        })
        .unwrap();
    assert_eq!(written.bytes, 7);
    assert_eq!(world.read("root/new/dir/file.txt"), "héllo\n".as_bytes());
    agent
        .call(WriteFile {
            path: "old.txt".into(),
            content: "new".into(),
            create_dirs: false,
        })
        .unwrap();
    assert_eq!(world.read("root/old.txt"), b"new");
    let failure = agent.call(WriteFile {
        path: "absent/file.txt".into(),
        content: String::new(),
        create_dirs: false,
    });
    assert_eq!(kind(failure), ErrorKind::NotFound);
    let listing = agent.call(ListDir { path: ".".into() }).unwrap();
    let names: Vec<_> = listing.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        ["new", "old.txt"],
        "no temporary file is left behind"
    );
}

#[test]
fn edit_file_replaces_exactly_what_it_is_told() {
    let world = World::new();
    world.file("root/lib.rs", "a\nb\na\n");
    let mut agent = world.start();
    let edit = |old: &str, replace_all| EditFile {
        path: "lib.rs".into(),
        old: old.into(),
        new: "z".into(),
        replace_all,
    };
    assert_eq!(kind(agent.call(edit("q", false))), ErrorKind::NoMatch);
    assert_eq!(kind(agent.call(edit("a", false))), ErrorKind::Ambiguous);
    assert_eq!(agent.call(edit("b", false)).unwrap().replacements, 1);
    assert_eq!(agent.call(edit("a", true)).unwrap().replacements, 2);
    assert_eq!(world.read("root/lib.rs"), b"z\nz\nz\n");
}

#[test]
fn list_dir_shows_every_kind_sorted_without_following_links() {
    let world = World::new();
    world
        .file("root/b.txt", "12345")
        .file("root/a/inner.txt", "")
        .symlink("root/c", "b.txt");
    let mut agent = world.start();
    let listing = agent.call(ListDir::default()).unwrap();
    let entries: Vec<_> = listing
        .entries
        .iter()
        .map(|DirEntry { name, kind, size }| (name.as_str(), *kind, *size))
        .filter(|(_, kind, _)| *kind != EntryKind::Dir)
        .collect();
    assert_eq!(
        entries,
        [("b.txt", EntryKind::File, 5), ("c", EntryKind::Symlink, 5)]
    );
    assert_eq!(listing.entries[0].name, "a");
    assert_eq!(listing.entries[0].kind, EntryKind::Dir);
    assert_eq!(
        kind(agent.call(ListDir {
            path: "b.txt".into()
        })),
        ErrorKind::NotADirectory
    );
}

#[test]
fn find_files_and_grep_honour_gitignore() {
    let world = World::new();
    world
        .file("root/.gitignore", "target/\n")
        .file("root/src/lib.rs", "pub fn answer() -> u32 {\n    42\n}\n")
        .file(
            "root/src/main.rs",
            "fn main() { println!(\"{}\", ANSWER); }\n",
        )
        .file("root/target/gen.rs", "fn answer() {}\n");
    let mut agent = world.start();
    let found = agent
        .call(FindFiles {
            pattern: "*.rs".into(),
            path: None,
        })
        .unwrap();
    assert_eq!(found.paths, ["src/lib.rs", "src/main.rs"]);
    assert!(!found.truncated);
    let matches = agent
        .call(Grep {
            pattern: r"answer\b".into(),
            path: Some("src".into()),
            case_insensitive: true,
            max_matches: None,
        })
        .unwrap();
    assert_eq!(
        matches.matches,
        [
            GrepMatch {
                path: "src/lib.rs".into(),
                line: 1,
                text: "pub fn answer() -> u32 {".into()
            },
            GrepMatch {
                path: "src/main.rs".into(),
                line: 1,
                text: "fn main() { println!(\"{}\", ANSWER); }".into()
            }
        ]
    );
    let bad = agent.call(Grep {
        pattern: "(".into(),
        ..Grep::default()
    });
    assert_eq!(kind(bad), ErrorKind::InvalidRequest);
}

#[test]
fn mkdir_creates_parents_and_tolerates_existing_directories() {
    let world = World::new();
    world.file("root/file", "");
    let mut agent = world.start();
    let mkdir = |path: &str| Mkdir { path: path.into() };
    agent.call(mkdir("a/b/c")).unwrap();
    agent.call(mkdir("a/b")).unwrap();
    assert!(world.root().join("a/b/c").is_dir());
    assert_eq!(kind(agent.call(mkdir("file"))), ErrorKind::AlreadyExists);
}

#[test]
fn run_command_streams_output_and_reports_the_exit() {
    let world = World::new();
    world.file("root/sub/marker", "");
    let mut agent = world.start();
    let (events, result) = agent.call_streaming(RunCommand {
        program: "sh".into(),
        args: vec![
            "-c".into(),
            "printf 'out %s\\n' \"$GREETING\"; cat; ls; echo err >&2; exit 3".into(),
        ],
        cwd: Some("sub".into()),
        env: BTreeMap::from([("GREETING".into(), "hi".into())]),
        stdin: Some("from stdin\n".into()),
        ..RunCommand::default()
    });
    let result = result.unwrap();
    assert_eq!(result.exit_code, Some(3));
    assert_eq!(result.signal, None);
    assert!(!result.timed_out && !result.truncated);
    let text = |stream| {
        events
            .iter()
            .filter(|event| event.event == stream)
            .map(|event| event.data.as_str())
            .collect::<String>()
    };
    assert_eq!(text(Stream::Stdout), "out hi\nfrom stdin\nmarker\n");
    assert_eq!(text(Stream::Stderr), "err\n");
    let mut output: Vec<_> = result.output.lines().collect();
    output.sort_unstable();
    assert_eq!(output, ["err", "from stdin", "marker", "out hi"]);
}

#[test]
fn run_command_refuses_what_it_cannot_start() {
    let world = World::new();
    world.file("root/file", "");
    let mut agent = world.start();
    let run = |program: &str, cwd: Option<&str>| RunCommand {
        program: program.into(),
        cwd: cwd.map(Into::into),
        ..RunCommand::default()
    };
    assert_eq!(
        kind(agent.call(run("no-such-program-dw", None))),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(agent.call(run("true", Some("file")))),
        ErrorKind::NotADirectory
    );
    assert_eq!(
        kind(agent.call(run("true", Some("absent")))),
        ErrorKind::NotFound
    );
    assert_eq!(kind(agent.call(run("", None))), ErrorKind::InvalidRequest);
}

#[test]
fn git_runs_in_the_root() {
    let world = World::new();
    world.file("root/tracked.txt", "x");
    let mut agent = world.start();
    let git = |args: &[&str]| Git {
        args: args.iter().map(|arg| (*arg).to_owned()).collect(),
        timeout_ms: Some(30_000),
    };
    let init = agent.call(git(&["init", "--quiet"])).unwrap();
    assert_eq!(init.exit_code, Some(0), "{}", init.output);
    let status = agent
        .call(git(&["status", "--short", "--untracked-files=all"]))
        .unwrap();
    assert_eq!(status.exit_code, Some(0));
    assert_eq!(status.output, "?? tracked.txt\n");
}

#[test]
fn cancelling_what_is_not_running_is_a_no() {
    let world = World::new();
    let mut agent = world.start();
    assert!(!agent.call(Cancel { target: 999 }).unwrap().cancelled);
}

#[test]
fn shutdown_answers_then_exits_zero() {
    let world = World::new();
    let mut agent = world.start();
    let id = agent.send(Shutdown {});
    let rest = agent.drain();
    assert!(matches!(
        rest.as_slice(),
        [Outgoing::Response(response)] if response.id == Some(id) && response.outcome.is_ok()
    ));
    assert!(agent.wait().success());
}
