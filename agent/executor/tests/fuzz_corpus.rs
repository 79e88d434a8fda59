//! Replays the corpora of the executor's fuzz targets on the stable toolchain: the properties
//! the fuzzers check (see `fuzz/src/protocol_line.rs` and `fuzz/src/workspace_path.rs`) must
//! hold for the seeds (`fuzz/seeds/<target>/`) and for every input that once broke them
//! (`fuzz/regressions/<target>/`, when there are any).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../../fuzz/src/protocol_line.rs"]
mod protocol_line;
#[path = "../../../fuzz/src/workspace_path.rs"]
mod workspace_path;

use std::fs;
use std::path::{Path, PathBuf};

/// The inputs of one target's seeds and regressions.
fn inputs(target: &str) -> Vec<PathBuf> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut files: Vec<PathBuf> = ["seeds", "regressions"]
        .iter()
        .map(|kind| fuzz.join(kind).join(target))
        .filter(|dir| dir.is_dir())
        .flat_map(|dir| fs::read_dir(dir).unwrap())
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no inputs for {target}");
    files
}

#[test]
fn the_decoder_answers_every_junk_line_with_invalid_request() {
    for file in inputs("protocol_line") {
        let data = fs::read(&file).unwrap();
        let root = tempfile::tempdir().unwrap();
        let checked = protocol_line::check(&data)
            .and_then(|()| protocol_line::check_served(root.path(), &data));
        if let Err(violation) = checked {
            panic!("{}: {violation}", file.display());
        }
    }
}

#[test]
fn no_path_resolves_outside_the_root() {
    let base = tempfile::tempdir().unwrap();
    let fixture = workspace_path::Fixture::create(base.path()).unwrap();
    for file in inputs("workspace_path") {
        if let Err(violation) = fixture.check(&fs::read(&file).unwrap()) {
            panic!("{}: {violation}", file.display());
        }
    }
}

/// The property means something only if the fixture's links really lead out: the operating
/// system follows them outside, and the executor refuses them.
#[test]
fn the_fixture_links_lead_out_for_the_operating_system() {
    let base = tempfile::tempdir().unwrap();
    let root = fs::canonicalize(base.path()).unwrap().join("root");
    let fixture = workspace_path::Fixture::create(base.path()).unwrap();
    let workspace = dw_agent::Workspace::open(&root).unwrap();
    for escape in [
        "up/outside/file",
        "dir/up/outside/dir/file",
        "outside/file",
        "outside_file",
        "outside_absolute/dir",
        "chain/file",
        "dir/chain",
        "slash/etc",
    ] {
        let real = fs::canonicalize(root.join(escape)).unwrap();
        assert!(!real.starts_with(&root), "{escape} stays inside");
        assert!(workspace.resolve(escape).is_err(), "{escape} resolved");
        fixture.check(escape.as_bytes()).unwrap();
    }
}
