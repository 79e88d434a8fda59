//! Replays the corpus of the `jsonc_set` fuzz target on the stable toolchain: the property the
//! fuzzer checks (refused and nothing written, or only the key's value changed; see
//! `fuzz/src/jsonc_set.rs`) must hold for the seed corpus and for every input that once broke
//! it (`fuzz/regressions/jsonc_set/`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../fuzz/src/jsonc_set.rs"]
mod jsonc_set;

use std::fs;
use std::path::{Path, PathBuf};

fn inputs(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    files
}

fn replay(dir: &str) {
    let files = inputs(dir);
    assert!(!files.is_empty(), "{dir} is empty");
    for file in files {
        let scratch = tempfile::tempdir().unwrap();
        let data = fs::read(&file).unwrap();
        if let Err(violation) = jsonc_set::check(scratch.path(), &data) {
            panic!("{}: {violation}", file.display());
        }
    }
}

#[test]
fn the_fuzz_property_holds_for_the_settings_corpus() {
    replay("tests/corpus/jsonc/ok");
    replay("tests/corpus/jsonc/malformed");
}

#[test]
fn the_fuzz_property_holds_for_every_input_that_once_broke_it() {
    replay("../fuzz/regressions/jsonc_set");
}

/// The first find: a control character outside a string was quoted raw in the error.
#[test]
fn a_control_character_is_quoted_as_an_escape() {
    let error = dw_runtime::jsonc::set("{\n  \u{1}\n}", jsonc_set::KEY, &"x".into()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "line 2, column 3: unexpected `\\u0001`: a JSON value is a string in double quotes, a \
         number, true, false, null, an object or an array"
    );
}

/// The second: a number cut short at the end of the text was quoted as an empty string, and
/// pointed at after it.
#[test]
fn a_bad_number_is_quoted_and_pointed_at() {
    let error = dw_runtime::jsonc::set("{\"a\": -", jsonc_set::KEY, &"x".into()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "line 1, column 7: invalid number `-`: expected digit following negative sign"
    );
    let error = dw_runtime::jsonc::set("{\"a\": 1.5e}", jsonc_set::KEY, &"x".into()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "line 1, column 7: invalid number `1.5e`: expected plus, minus, or digit in number literal"
    );
}
