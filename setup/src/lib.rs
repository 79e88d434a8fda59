//! `dw setup`: the one-time workstation bootstrap.
//!
//! Owns the bootstrap as a plan of steps (`install`, `start`, `pull`, `settings`) computed from what
//! the `dw-runtime` crate detects, printed under `--dry-run` and applied otherwise. It does not own
//! runtime discovery, the engine connection or the JSONC settings editor: those live in
//! `dw-runtime` and are shared with `dw doctor` and `dw run`.
#![forbid(unsafe_code)]
