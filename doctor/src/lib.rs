//! `dw doctor`: every documented risk of running an agent in a container, checked on the real
//! machine.
//!
//! Owns the checks, their findings (pass / warn / fail / skip with evidence and a fix) and the
//! advisory table (`doctor/data/`). It does not own how facts are gathered from the host and the
//! engine: that is `dw-runtime`'s job.
#![forbid(unsafe_code)]
