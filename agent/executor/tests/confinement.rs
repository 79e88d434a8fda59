//! Every way out of the workspace, tried with every op that takes a path: each is refused, and
//! nothing outside the root is read, created or changed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use dw_protocol::request::{
    EditFile, FindFiles, Grep, ListDir, Mkdir, ReadFile, RunCommand, WriteFile,
};
use dw_protocol::{ErrorKind, Failure};
use support::{Agent, World};

const SECRET: &str = "the secret outside";

/// A workspace whose root is full of doors to its sibling `outside/`.
fn world() -> World {
    let world = World::new();
    let outside = world.outside();
    world
        .file("outside/secret.txt", SECRET)
        .file("outside/dir/file.txt", SECRET)
        .file("root/inside.txt", "inside")
        .file("root/real/file.txt", "real")
        .symlink("root/link_file", "../outside/secret.txt")
        .symlink("root/link_dir", "../outside/dir")
        .symlink("root/link_up", "..")
        .symlink("root/dangling", "../outside/nothing")
        .symlink("root/dangling_dir", "../outside/none/")
        .symlink("root/abs_file", outside.join("secret.txt"))
        .symlink("root/abs_dir", outside.join("dir"))
        .symlink("root/proc_root", "/proc/self/root")
        .symlink("root/inside_link", "real")
        .symlink("root/real/up_two", "../../outside");
    world
}

/// Paths that lead outside, each by a different road.
fn escapes(world: &World) -> Vec<String> {
    let outside = world.outside().display().to_string();
    let root = world.root().display().to_string();
    vec![
        "..".into(),
        "../outside/secret.txt".into(),
        "real/../../outside/secret.txt".into(),
        "inside_link/../../outside/secret.txt".into(),
        format!("{outside}/secret.txt"),
        format!("{outside}/dir"),
        format!("{root}/../outside/secret.txt"),
        format!("/proc/self/root{outside}/secret.txt"),
        format!("/proc/self/root{root}/inside.txt"),
        format!("proc_root{outside}/secret.txt"),
        "link_file".into(),
        "link_dir".into(),
        "link_dir/file.txt".into(),
        "link_dir/new.txt".into(),
        "link_dir/sub/new.txt".into(),
        "link_dir/../secret.txt".into(),
        "link_up/outside/secret.txt".into(),
        "dangling".into(),
        "dangling_dir/new.txt".into(),
        "abs_file".into(),
        "abs_dir/file.txt".into(),
        "abs_dir/new.txt".into(),
        "real/up_two/secret.txt".into(),
        "real/up_two/new.txt".into(),
        "inside_link/up_two/dir".into(),
    ]
}

fn assert_refused<T: std::fmt::Debug>(op: &str, path: &str, result: Result<T, Failure>) {
    let failure = result.expect_err(&format!("{op} {path:?} was served"));
    assert!(
        matches!(
            failure.kind,
            ErrorKind::OutsideWorkspace | ErrorKind::InvalidRequest
        ),
        "{op} {path:?}: {failure:?}"
    );
}

/// Tries every path-taking op on `path`.
fn attack(agent: &mut Agent, path: &str) {
    assert_refused(
        "read_file",
        path,
        agent.call(ReadFile {
            path: path.into(),
            ..ReadFile::default()
        }),
    );
    for create_dirs in [true, false] {
        assert_refused(
            "write_file",
            path,
            agent.call(WriteFile {
                path: path.into(),
                content: "pwned".into(),
                create_dirs,
            }),
        );
    }
    assert_refused(
        "edit_file",
        path,
        agent.call(EditFile {
            path: path.into(),
            old: "secret".into(),
            new: "pwned".into(),
            replace_all: true,
        }),
    );
    assert_refused("mkdir", path, agent.call(Mkdir { path: path.into() }));
    assert_refused(
        "mkdir",
        path,
        agent.call(Mkdir {
            path: format!("{path}/sub"),
        }),
    );
    assert_refused("list_dir", path, agent.call(ListDir { path: path.into() }));
    assert_refused(
        "find_files",
        path,
        agent.call(FindFiles {
            pattern: "*".into(),
            path: Some(path.into()),
        }),
    );
    assert_refused(
        "grep",
        path,
        agent.call(Grep {
            pattern: "secret".into(),
            path: Some(path.into()),
            ..Grep::default()
        }),
    );
    assert_refused(
        "run_command",
        path,
        agent.call(RunCommand {
            program: "touch".into(),
            args: vec!["pwned".into()],
            cwd: Some(path.into()),
            ..RunCommand::default()
        }),
    );
}

#[test]
fn every_escape_is_refused_and_nothing_outside_changes() {
    let world = world();
    let before = world.outside_snapshot();
    let mut agent = world.start();
    for path in escapes(&world) {
        attack(&mut agent, &path);
    }
    assert_eq!(world.outside_snapshot(), before);
}

#[test]
fn nul_bytes_are_invalid_requests() {
    let world = world();
    let mut agent = world.start();
    for path in ["inside.txt\0", "\0", "real\0/../../outside/secret.txt"] {
        attack(&mut agent, path);
    }
}

#[test]
fn links_that_stay_inside_are_followed() {
    let world = world();
    let mut agent = world.start();
    let read = agent.call(ReadFile {
        path: "inside_link/file.txt".into(),
        ..ReadFile::default()
    });
    assert_eq!(read.unwrap().content, "real");
    agent
        .call(WriteFile {
            path: "inside_link/new.txt".into(),
            content: "new".into(),
            create_dirs: true,
        })
        .unwrap();
    assert_eq!(world.read("root/real/new.txt"), b"new");
}

#[test]
fn walks_of_the_root_do_not_go_through_links_out() {
    let world = world();
    let before = world.outside_snapshot();
    let mut agent = world.start();
    let found = agent
        .call(Grep {
            pattern: "secret".into(),
            ..Grep::default()
        })
        .unwrap();
    assert!(found.matches.is_empty(), "{:?}", found.matches);
    let found = agent
        .call(FindFiles {
            pattern: "*.txt".into(),
            path: None,
        })
        .unwrap();
    assert_eq!(found.paths, ["inside.txt", "real/file.txt"]);
    assert_eq!(world.outside_snapshot(), before);
}

/// A link flipped between a directory inside and one outside while requests go through it:
/// every request resolves the path once, beneath the root, so it lands inside or is refused —
/// never outside, whatever the timing.
#[test]
fn a_link_swapped_during_requests_never_leads_out() {
    let world = world();
    world.file("root/inside_dir/file.txt", "inside");
    let root = world.root();
    std::os::unix::fs::symlink("inside_dir", root.join("swing")).unwrap();
    let before = world.outside_snapshot();
    let stop = Arc::new(AtomicBool::new(false));
    let flipper = {
        let stop = Arc::clone(&stop);
        let root = root.clone();
        std::thread::spawn(move || {
            let targets = ["inside_dir", "../outside/dir"];
            let mut flips = 0_u64;
            let staged = root.join(".swing.next");
            while !stop.load(Ordering::Relaxed) {
                let target = targets[usize::from(flips % 2 == 1)];
                // Stops quietly if the test already failed and removed the directory.
                let flipped = std::os::unix::fs::symlink(target, &staged)
                    .and_then(|()| std::fs::rename(&staged, root.join("swing")));
                if flipped.is_err() {
                    break;
                }
                flips += 1;
            }
            flips
        })
    };
    let mut agent = world.start();
    let mut served = 0;
    for round in 0..300 {
        let read = agent.call(ReadFile {
            path: "swing/file.txt".into(),
            ..ReadFile::default()
        });
        match read {
            Ok(read) => {
                assert_ne!(read.content, SECRET, "round {round} read outside");
                served += 1;
            }
            Err(failure) => assert_eq!(failure.kind, ErrorKind::OutsideWorkspace),
        }
        let write = agent.call(WriteFile {
            path: "swing/file.txt".into(),
            content: format!("inside {round}"),
            create_dirs: round % 2 == 0,
        });
        if let Err(failure) = write {
            assert_eq!(failure.kind, ErrorKind::OutsideWorkspace, "round {round}");
        }
        let edit = agent.call(EditFile {
            path: "swing/file.txt".into(),
            old: "inside".into(),
            new: "inside".into(),
            replace_all: true,
        });
        if let Err(failure) = edit {
            assert!(
                matches!(
                    failure.kind,
                    ErrorKind::OutsideWorkspace | ErrorKind::NoMatch
                ),
                "round {round}: {failure:?}"
            );
        }
        let mkdir = agent.call(Mkdir {
            path: "swing/sub".into(),
        });
        if let Err(failure) = mkdir {
            assert_eq!(failure.kind, ErrorKind::OutsideWorkspace, "round {round}");
        }
    }
    stop.store(true, Ordering::Relaxed);
    let flips = flipper.join().unwrap();
    // The race was really run: the link moved while the requests went through it.
    assert!(flips > 1, "the link never moved");
    eprintln!("{served} of 300 reads served inside; the link flipped {flips} times");
    std::fs::remove_file(root.join("swing")).unwrap();
    assert_eq!(world.outside_snapshot(), before);
}
