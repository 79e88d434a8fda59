//! The properties behind dw's fuzz targets, one module per target.
//!
//! - [`jsonc_set`]: the settings edit either refuses (and writes nothing) or changes only the
//!   key's value;
//! - [`protocol_line`]: the executor's decoder never panics and answers junk with
//!   `invalid_request`;
//! - [`workspace_path`]: no path the model gives resolves outside the workspace root.
//!
//! Each module returns a violation as `Err(description)`; the fuzz targets panic with it, and
//! the owning crates' tests include the same module by path to replay the committed corpora
//! (`fuzz/seeds/`, `fuzz/regressions/`) on the stable toolchain.
#![forbid(unsafe_code)]

pub mod jsonc_set;
pub mod protocol_line;
pub mod workspace_path;

use std::fs;
use std::path::{Path, PathBuf};

/// An empty directory of this process's own, named after `target`: under `DW_FUZZ_SCRATCH`
/// when set (`fuzz/run --smoke` removes that afterwards), else on a tmpfs when there is one (the
/// settings edit syncs every write it makes). Left behind when libFuzzer exits, so it first
/// removes the ones of processes that are gone.
pub fn scratch_dir(target: &str) -> PathBuf {
    let shm = Path::new("/dev/shm");
    let temp = match std::env::var_os("DW_FUZZ_SCRATCH") {
        Some(dir) => PathBuf::from(dir),
        None if shm.is_dir() => shm.to_path_buf(),
        None => std::env::temp_dir(),
    };
    let prefix = format!("dw-fuzz-{target}.");
    if let Ok(entries) = fs::read_dir(&temp) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let gone = name
                .strip_prefix(&prefix)
                .is_some_and(|pid| !Path::new("/proc").join(pid).exists());
            if gone {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }
    let dir = temp.join(format!("{prefix}{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    if let Err(error) = fs::create_dir_all(&dir) {
        panic!(
            "cannot create the scratch directory {}: {error}",
            dir.display()
        );
    }
    dir
}
