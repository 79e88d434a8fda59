//! The executor's path confinement: nothing resolves outside the workspace root.
#![no_main]

use std::sync::LazyLock;

use dw_fuzz::workspace_path::Fixture;
use libfuzzer_sys::fuzz_target;

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let base = dw_fuzz::scratch_dir("workspace_path");
    Fixture::create(&base)
        .unwrap_or_else(|error| panic!("cannot build the fixture in {}: {error}", base.display()))
});

fuzz_target!(|data: &[u8]| {
    if let Err(violation) = FIXTURE.check(data) {
        panic!("{violation}");
    }
});
