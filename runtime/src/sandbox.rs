//! The sandbox policy as a value.
