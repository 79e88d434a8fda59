//! Where the static `dw-agent` binary is on the host, and whether it can run in a sandbox.
//!
//! dw looks at `DW_AGENT` (a path) first, then for `dw-agent` next to the running `dw`. The
//! binary is mounted into containers of any image, so it must be a statically linked Linux
//! executable: a dynamically linked one would depend on the image's C library.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The environment variable naming the executor binary.
pub const EXECUTOR_ENV: &str = "DW_AGENT";

/// How to build the executor, for error messages.
const BUILD_HINT: &str = "build it with `RUSTFLAGS='-C target-feature=+crt-static' cargo build \
     --release -p dw-agent --target x86_64-unknown-linux-gnu` and set DW_AGENT to \
     target/x86_64-unknown-linux-gnu/release/dw-agent, or install dw-agent next to dw";

/// Why the executor binary cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    /// Neither `DW_AGENT` nor a `dw-agent` next to `dw`.
    #[error("the executor dw-agent was not found (DW_AGENT is not set and there is none at {}); {BUILD_HINT}", beside.display())]
    NotFound {
        /// Where dw looked next to itself.
        beside: PathBuf,
    },
    /// The path cannot be read.
    #[error("the executor {} cannot be read: {source}; {BUILD_HINT}", path.display())]
    Unreadable {
        /// The binary.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The path exists but is not something that can run in a container.
    #[error("the executor {} {problem}; {BUILD_HINT}", path.display())]
    Unusable {
        /// The binary.
        path: PathBuf,
        /// What is wrong with it.
        problem: &'static str,
    },
}

/// Finds the executor binary: `DW_AGENT`, else `dw-agent` next to the running executable.
///
/// Only finds it; [`check`] says whether it can be used.
pub fn locate() -> Result<PathBuf, ExecutorError> {
    let path = match std::env::var_os(EXECUTOR_ENV).filter(|value| !value.is_empty()) {
        Some(path) => PathBuf::from(path),
        None => {
            let beside = std::env::current_exe()
                .ok()
                .and_then(|exe| exe.parent().map(|dir| dir.join("dw-agent")))
                .unwrap_or_else(|| PathBuf::from("dw-agent"));
            if !beside.exists() {
                return Err(ExecutorError::NotFound { beside });
            }
            beside
        }
    };
    Ok(path)
}

/// Checks that `path` is an executable, statically linked ELF file.
pub fn check(path: &Path) -> Result<(), ExecutorError> {
    let unreadable = |source| ExecutorError::Unreadable {
        path: path.to_owned(),
        source,
    };
    let unusable = |problem| ExecutorError::Unusable {
        path: path.to_owned(),
        problem,
    };
    let metadata = std::fs::metadata(path).map_err(unreadable)?;
    if !metadata.is_file() {
        return Err(unusable("is not a file"));
    }
    if metadata.permissions().mode() & 0o111 == 0 {
        return Err(unusable("is not executable"));
    }
    let mut header = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(64 * 1024).read_to_end(&mut header))
        .map_err(unreadable)?;
    match elf_interpreter(&header) {
        None => Err(unusable("is not a 64-bit little-endian ELF executable")),
        Some(true) => Err(unusable(
            "is dynamically linked, so it would depend on the image's C library",
        )),
        Some(false) => Ok(()),
    }
}

/// Whether an ELF64 little-endian file asks for a program interpreter (is dynamically linked);
/// `None` when the bytes are not such a file or its program headers lie beyond `bytes`.
fn elf_interpreter(bytes: &[u8]) -> Option<bool> {
    const PT_INTERP: u32 = 3;
    if bytes.get(..6)? != b"\x7fELF\x02\x01" {
        return None;
    }
    let u16_at = |at: usize| Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?));
    let u64_at = |at: usize| Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?));
    let table = usize::try_from(u64_at(0x20)?).ok()?;
    let entry_size = usize::from(u16_at(0x36)?);
    let count = usize::from(u16_at(0x38)?);
    let mut interpreter = false;
    for index in 0..count {
        let at = table.checked_add(index.checked_mul(entry_size)?)?;
        let kind = u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?);
        interpreter |= kind == PT_INTERP;
    }
    Some(interpreter)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn a_dynamically_linked_program_is_refused_with_how_to_build_the_static_one() {
        let error = check(Path::new("/bin/sh")).unwrap_err().to_string();
        assert!(error.contains("dynamically linked"), "{error}");
        assert!(error.contains("crt-static"), "{error}");
    }

    #[test]
    fn a_file_that_is_not_executable_is_refused() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let error = check(file.path()).unwrap_err().to_string();
        assert!(error.contains("is not executable"), "{error}");
    }

    #[test]
    fn a_missing_file_is_refused() {
        let error = check(Path::new("/nonexistent/dw-agent"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("cannot be read"), "{error}");
    }
}
