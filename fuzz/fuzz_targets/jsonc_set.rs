//! The settings edit: refused and nothing written, or only the key's value changed.
#![no_main]

use std::path::PathBuf;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;

static SCRATCH: LazyLock<PathBuf> = LazyLock::new(|| dw_fuzz::scratch_dir("jsonc_set"));

fuzz_target!(|data: &[u8]| {
    if let Err(violation) = dw_fuzz::jsonc_set::check(&SCRATCH, data) {
        panic!("{violation}");
    }
});
