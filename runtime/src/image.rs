//! The workflow base image and the labels dw puts on everything it creates.

/// The image GitLab's Duo Workflow uses by default, and dw's default `--image`.
pub const DEFAULT_IMAGE: &str = "registry.gitlab.com/gitlab-org/duo-workflow/default-docker-image/workflow-generic-image:v0.0.4";

/// The label naming the workflow a container belongs to (`dev.dw.workflow=<id>`).
///
/// Every container, network and volume dw creates carries it, so that the reaper can remove what
/// a crashed run left behind.
pub const WORKFLOW_LABEL: &str = "dev.dw.workflow";

/// The label recording the dw version that created a container.
pub const VERSION_LABEL: &str = "dev.dw.version";

/// This build's version, the value of [`VERSION_LABEL`].
pub const DW_VERSION: &str = env!("CARGO_PKG_VERSION");
