//! Atomic replacement with a backup, and the settings-file glue on top of it, on a real file
//! system: links as dotfile managers make them, permissions, owners, modification times.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use dw_runtime::atomic::{self, AtomicWriteError, WriteOutcome};
use dw_runtime::jsonc::{self, SettingsFileError};
use serde_json::json;

const KEY: &str = "gitlab.duoWorkflow.dockerSocket";
const SOCKET: &str = "/Users/u/.colima/default/docker.sock";

/// A fixed time long ago: a write that happens during the test cannot produce it, so an
/// unchanged modification time proves the file was not written.
fn long_ago() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000)
}

fn age(path: &Path) {
    fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(long_ago())
        .unwrap();
}

fn modified(path: &Path) -> SystemTime {
    fs::metadata(path).unwrap().modified().unwrap()
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

fn backup_of(path: &Path) -> PathBuf {
    PathBuf::from(format!("{}.dw-backup", path.display()))
}

#[test]
fn a_new_file_gets_its_parent_directories_and_ordinary_permissions() {
    let home = tempfile::tempdir().unwrap();
    let user_dir = home.path().join("Library/Application Support/Code/User");
    let path = user_dir.join("settings.json");

    assert_eq!(
        atomic::replace(&path, b"{}\n").unwrap(),
        WriteOutcome::Created
    );

    assert_eq!(fs::read(&path).unwrap(), b"{}\n");
    // Permissions of any new file under this umask, not the temporary file's private 0600.
    let reference = user_dir.join("reference");
    fs::File::create(&reference).unwrap();
    assert_eq!(mode(&path), mode(&reference));
    assert_eq!(
        names(&user_dir),
        ["reference", "settings.json"],
        "no backup, no temporary file"
    );
}

#[test]
fn replacing_keeps_the_previous_bytes_in_a_backup() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.json");
    fs::write(&path, "old").unwrap();

    let outcome = atomic::replace(&path, b"new").unwrap();

    assert_eq!(
        outcome,
        WriteOutcome::Replaced {
            backup: backup_of(&path)
        }
    );
    assert_eq!(fs::read_to_string(&path).unwrap(), "new");
    assert_eq!(fs::read_to_string(backup_of(&path)).unwrap(), "old");

    atomic::replace(&path, b"newer").unwrap();
    assert_eq!(
        fs::read_to_string(backup_of(&path)).unwrap(),
        "new",
        "the backup is the bytes just before"
    );
    assert_eq!(
        names(dir.path()),
        ["settings.json", "settings.json.dw-backup"]
    );
}

#[test]
fn permissions_are_kept_and_the_backup_is_as_private_as_the_file() {
    for wanted in [0o600, 0o640, 0o755] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings.json");
        fs::write(&path, "old").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(wanted)).unwrap();

        atomic::replace(&path, b"new").unwrap();

        assert_eq!(mode(&path), wanted, "file");
        assert_eq!(mode(&backup_of(&path)), wanted, "backup");
    }
}

#[test]
fn the_owner_is_kept_when_the_process_may_set_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.json");
    fs::write(&path, "old").unwrap();
    // Only a privileged process may give a file away; elsewhere there is nothing to check.
    if fs::metadata(&path).unwrap().uid() != 0 {
        return;
    }
    std::os::unix::fs::chown(&path, Some(4321), Some(4322)).unwrap();

    atomic::replace(&path, b"new").unwrap();

    let metadata = fs::metadata(&path).unwrap();
    assert_eq!((metadata.uid(), metadata.gid()), (4321, 4322));
    let backup = fs::metadata(backup_of(&path)).unwrap();
    assert_eq!((backup.uid(), backup.gid()), (4321, 4322));
}

#[test]
fn writing_the_same_bytes_touches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.json");
    fs::write(&path, "same").unwrap();
    age(&path);
    let inode = fs::metadata(&path).unwrap().ino();

    assert_eq!(
        atomic::replace(&path, b"same").unwrap(),
        WriteOutcome::Unchanged
    );

    assert_eq!(modified(&path), long_ago());
    assert_eq!(fs::metadata(&path).unwrap().ino(), inode);
    assert_eq!(names(dir.path()), ["settings.json"], "no backup");
}

#[test]
fn a_symlinked_file_is_written_through_the_link() {
    let home = tempfile::tempdir().unwrap();
    let real_dir = home.path().join("dotfiles/vscode");
    fs::create_dir_all(&real_dir).unwrap();
    let real = real_dir.join("settings.json");
    fs::write(&real, "old").unwrap();
    let user_dir = home.path().join("Code/User");
    fs::create_dir_all(&user_dir).unwrap();
    let link = user_dir.join("settings.json");
    symlink("../../dotfiles/vscode/settings.json", &link).unwrap();

    let outcome = atomic::replace(&link, b"new").unwrap();

    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink(),
        "still a link"
    );
    assert_eq!(
        fs::read_link(&link).unwrap(),
        Path::new("../../dotfiles/vscode/settings.json")
    );
    assert_eq!(fs::read_to_string(&real).unwrap(), "new");
    assert_eq!(
        outcome,
        WriteOutcome::Replaced {
            backup: backup_of(&user_dir.join("../../dotfiles/vscode/settings.json"))
        }
    );
    assert_eq!(fs::read_to_string(backup_of(&real)).unwrap(), "old");
    assert_eq!(
        names(&user_dir),
        ["settings.json"],
        "nothing written next to the link"
    );
}

#[test]
fn a_chain_of_relative_links_is_followed_to_the_file() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("deeper")).unwrap();
    let file = dir.path().join("deeper/real.json");
    fs::write(&file, "old").unwrap();
    symlink("deeper/middle.json", dir.path().join("first.json")).unwrap();
    symlink("real.json", dir.path().join("deeper/middle.json")).unwrap();

    let target = atomic::resolve_symlinks(&dir.path().join("first.json")).unwrap();
    assert_eq!(
        fs::canonicalize(&target).unwrap(),
        fs::canonicalize(&file).unwrap()
    );

    atomic::replace(&dir.path().join("first.json"), b"new").unwrap();
    assert_eq!(fs::read_to_string(&file).unwrap(), "new");
    assert!(
        fs::symlink_metadata(dir.path().join("first.json"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        fs::symlink_metadata(dir.path().join("deeper/middle.json"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn a_link_to_a_missing_file_creates_the_target() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("settings.json");
    symlink("dotfiles/settings.json", &link).unwrap();

    assert_eq!(
        atomic::replace(&link, b"{}").unwrap(),
        WriteOutcome::Created
    );

    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("dotfiles/settings.json")).unwrap(),
        "{}"
    );
}

#[test]
fn a_link_loop_is_an_error_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    symlink("b", dir.path().join("a")).unwrap();
    symlink("a", dir.path().join("b")).unwrap();

    let error = atomic::replace(&dir.path().join("a"), b"new").unwrap_err();

    assert!(
        matches!(error, AtomicWriteError::LinkLoop { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("loop"), "{error}");
    assert_eq!(names(dir.path()), ["a", "b"]);
}

#[test]
fn failures_say_what_was_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_dir = dir.path().join("file");
    fs::write(&not_a_dir, "x").unwrap();

    let error = atomic::replace(&not_a_dir.join("settings.json"), b"{}").unwrap_err();
    assert!(
        matches!(error, AtomicWriteError::CreateDir { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("nothing was written"), "{error}");

    let error = atomic::replace(dir.path(), b"{}").unwrap_err();
    assert!(matches!(error, AtomicWriteError::Read { .. }), "{error:?}");
    assert!(error.to_string().contains("nothing was written"), "{error}");
    assert_eq!(fs::read_to_string(&not_a_dir).unwrap(), "x");
}

#[test]
fn set_in_file_creates_a_missing_settings_file() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join(".config/Code/User/settings.json");

    let (edit, outcome) = jsonc::set_in_file(&path, KEY, &json!(SOCKET)).unwrap();

    assert_eq!(outcome, WriteOutcome::Created);
    assert_eq!(edit.before, None);
    assert!(edit.changed);
    assert_eq!(fs::read_to_string(&path).unwrap(), edit.after);
    assert_eq!(jsonc::get(&edit.after, KEY).unwrap(), Some(json!(SOCKET)));
}

#[test]
fn set_in_file_writes_only_when_the_value_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.json");
    let original = "{\n    // mine\n    \"editor.fontSize\": 12\n}\n";
    fs::write(&path, original).unwrap();

    let (edit, outcome) = jsonc::set_in_file(&path, KEY, &json!(SOCKET)).unwrap();
    assert_eq!(
        outcome,
        WriteOutcome::Replaced {
            backup: backup_of(&path)
        }
    );
    assert_eq!(edit.before.as_deref(), Some(original));
    assert_eq!(fs::read_to_string(backup_of(&path)).unwrap(), original);

    age(&path);
    let (edit, outcome) = jsonc::set_in_file(&path, KEY, &json!(SOCKET)).unwrap();
    assert_eq!(outcome, WriteOutcome::Unchanged);
    assert!(!edit.changed);
    assert_eq!(modified(&path), long_ago());
}

#[test]
fn set_in_file_through_a_link_writes_the_target() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.json");
    fs::write(&real, "{ \"a\": 1 }\n").unwrap();
    let link = dir.path().join("settings.json");
    symlink("real.json", &link).unwrap();

    jsonc::set_in_file(&link, KEY, &json!(SOCKET)).unwrap();

    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        fs::read_to_string(&real).unwrap(),
        format!("{{ \"a\": 1, \"{KEY}\": \"{SOCKET}\" }}\n")
    );
}

#[test]
fn plan_in_file_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.json");
    fs::write(&path, "{}").unwrap();
    age(&path);

    let edit = jsonc::plan_in_file(&path, KEY, &json!(SOCKET)).unwrap();

    assert!(edit.changed);
    assert_eq!(edit.before.as_deref(), Some("{}"));
    assert_eq!(fs::read_to_string(&path).unwrap(), "{}");
    assert_eq!(modified(&path), long_ago());
    assert!(
        jsonc::plan_in_file(&dir.path().join("missing.json"), KEY, &json!(SOCKET))
            .unwrap()
            .before
            .is_none()
    );
    assert_eq!(names(dir.path()), ["settings.json"]);
}

#[test]
fn apply_refuses_when_the_file_changed_since_it_was_planned() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.json");
    fs::write(&path, "{}").unwrap();
    let edit = jsonc::plan_in_file(&path, KEY, &json!(SOCKET)).unwrap();
    fs::write(&path, "{ \"written\": \"meanwhile\" }").unwrap();

    let error = edit.apply().unwrap_err();

    assert!(
        matches!(error, SettingsFileError::ChangedSincePlanned { .. }),
        "{error:?}"
    );
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        "{ \"written\": \"meanwhile\" }"
    );
}

#[test]
fn a_file_that_is_not_utf8_is_refused_untouched() {
    let cases: [(&[u8], usize, &str); 2] = [
        (b"{\n  \"font\": \"caf\xe9\"\n}\n", 2, ""),
        (b"\xff\xfe{\x00}\x00", 1, "UTF-16"),
    ];
    for (bytes, line, hint) in cases {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings.json");
        fs::write(&path, bytes).unwrap();
        age(&path);

        let error = jsonc::set_in_file(&path, KEY, &json!(SOCKET)).unwrap_err();

        match &error {
            SettingsFileError::NotUtf8 { line: reported, .. } => assert_eq!(*reported, line),
            other => panic!("expected NotUtf8, got {other:?}"),
        }
        let message = error.to_string();
        assert!(
            message.contains("not UTF-8") && message.contains("left untouched"),
            "{message}"
        );
        assert!(message.contains(hint), "{message}");
        assert_eq!(fs::read(&path).unwrap(), bytes);
        assert_eq!(modified(&path), long_ago());
        assert_eq!(names(dir.path()), ["settings.json"]);
    }
}
