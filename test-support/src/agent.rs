//! The static dw-agent binary.
