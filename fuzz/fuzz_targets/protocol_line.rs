//! The executor's protocol decoder: no panic, and `invalid_request` for every junk line.
#![no_main]

use std::path::PathBuf;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;

static ROOT: LazyLock<PathBuf> = LazyLock::new(|| dw_fuzz::scratch_dir("protocol_line"));

/// Serving an input starts a runtime and two threads (milliseconds under AddressSanitizer, a
/// hundred times the decoding), so the executor loop serves one input in this many, chosen by
/// content so that a crash reproduces.
const SERVE_ONE_IN: u32 = 16;

fuzz_target!(|data: &[u8]| {
    let checked = if fingerprint(data).is_multiple_of(SERVE_ONE_IN) {
        dw_fuzz::protocol_line::check_served(&ROOT, data)
    } else {
        dw_fuzz::protocol_line::check(data)
    };
    if let Err(violation) = checked {
        panic!("{violation}");
    }
});

/// FNV-1a of the input.
fn fingerprint(data: &[u8]) -> u32 {
    data.iter().fold(0x811c_9dc5, |hash, byte| {
        (hash ^ u32::from(*byte)).wrapping_mul(0x0100_0193)
    })
}
