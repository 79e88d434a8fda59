//! The reaper: removes sandbox containers whose dw process is gone.
//!
//! Every sandbox carries the [`WORKFLOW_LABEL`] and the [`OWNER_LABEL`]. A dw process removes
//! its own container when it ends, also on error and on Ctrl-C; only a process that was killed
//! outright (SIGKILL, a crash, a power cut) leaves one behind. Every dw command that uses the
//! engine calls [`reap_orphans`] first, and `dw sandbox prune` calls only it.
//!
//! Containers whose owner lives on another host, or that carry no owner, are left alone: dw
//! cannot tell whether their owner is alive.

use std::collections::HashMap;

use bollard::query_parameters::ListContainersOptions;
use dw_runtime::engine::{Engine, EngineError};
use dw_runtime::image::WORKFLOW_LABEL;
use dw_runtime::sandbox::OWNER_LABEL;
use serde::Serialize;

/// One container the reaper removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Removed {
    /// The container's id.
    pub id: String,
    /// Its name, without the leading `/`.
    pub name: String,
    /// Its workflow id.
    pub workflow_id: String,
    /// The owner it named (`<hostname>:<pid>:<start time>`), which is gone.
    pub owner: String,
    /// Its state when it was removed (`running`, `exited` …).
    pub state: String,
}

/// Why the reaper could not do its job.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action}")]
pub struct ReapError {
    /// What it was doing.
    pub action: String,
    /// The engine's error.
    #[source]
    pub source: EngineError,
}

/// Removes every sandbox container whose owning dw process on this host is gone, and says which.
pub async fn reap_orphans(engine: &Engine) -> Result<Vec<Removed>, ReapError> {
    let listed = engine
        .call(
            "GET /containers/json",
            engine.docker().list_containers(Some(ListContainersOptions {
                all: true,
                filters: Some(HashMap::from([(
                    "label".to_owned(),
                    vec![WORKFLOW_LABEL.to_owned()],
                )])),
                ..Default::default()
            })),
        )
        .await
        .map_err(|source| ReapError {
            action: "list dw's sandbox containers".to_owned(),
            source,
        })?;
    let mut removed = Vec::new();
    for container in listed {
        let labels = container.labels.unwrap_or_default();
        let (Some(id), Some(owner)) = (container.id, labels.get(OWNER_LABEL)) else {
            continue;
        };
        if !crate::owner::is_gone(owner) {
            continue;
        }
        dw_runtime::container::remove_container(engine, &id)
            .await
            .map_err(|source| ReapError {
                action: format!("remove the orphaned sandbox container {id}"),
                source,
            })?;
        removed.push(Removed {
            name: container
                .names
                .and_then(|names| names.into_iter().next())
                .map(|name| name.trim_start_matches('/').to_owned())
                .unwrap_or_default(),
            workflow_id: labels.get(WORKFLOW_LABEL).cloned().unwrap_or_default(),
            owner: owner.clone(),
            state: container
                .state
                .map(|state| state.to_string())
                .unwrap_or_default(),
            id,
        });
    }
    Ok(removed)
}
