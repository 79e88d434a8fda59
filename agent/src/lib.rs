//! The host side of dw's agent: workflows (plan, approval, execution, state, audit), the sandbox
//! container the executor runs in, model providers and the read-only GitLab client.
//!
//! The executor itself (`dw-agent`, in `agent/executor`) and the messages between the two
//! (`dw-protocol`, in `agent/protocol`) are separate crates, so that the executor depends on
//! nothing that talks to Docker or the network.
#![forbid(unsafe_code)]
