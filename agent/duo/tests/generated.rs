//! Keeps `src/grpc/contract.rs` in step with `proto/contract.proto`.
//!
//! The generated code is checked in so that building dw needs neither `protoc` nor a .proto
//! compiler. This test compiles the .proto with `protox` (pure Rust) and `tonic-prost-build` and
//! compares; with `DW_DUO_REGENERATE=1` it rewrites the checked-in file instead:
//!
//! ```text
//! DW_DUO_REGENERATE=1 cargo test -p dw-duo --features regenerate --test generated
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

#[test]
fn checked_in_grpc_code_matches_the_proto() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let descriptors = protox::compile(["contract.proto"], [crate_dir.join("proto")]).unwrap();
    let out = tempfile::tempdir().unwrap();
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .build_transport(false)
        .out_dir(out.path())
        .compile_fds(descriptors)
        .unwrap();
    // The contract has no package, so prost names the file after the empty package.
    let generated = std::fs::read_to_string(out.path().join("_.rs")).unwrap();
    let checked_in_path = crate_dir.join("src/grpc/contract.rs");
    let header = "// @generated from proto/contract.proto by tests/generated.rs; do not edit.\n";
    let expected = format!("{header}{generated}");
    if std::env::var_os("DW_DUO_REGENERATE").is_some() {
        std::fs::write(&checked_in_path, &expected).unwrap();
        return;
    }
    let checked_in = std::fs::read_to_string(&checked_in_path).unwrap_or_default();
    assert!(
        checked_in == expected,
        "src/grpc/contract.rs is stale: run `DW_DUO_REGENERATE=1 cargo test -p dw-duo --features regenerate --test generated`"
    );
}
