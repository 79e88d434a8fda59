//! Containers dw makes (sandboxes, doctor's probes): removed however the code that made them
//! ends — by [`ContainerGuard::remove`], or on drop, also on a panic or an early return.

use bollard::query_parameters::{RemoveContainerOptions, WaitContainerOptions};
use futures_util::StreamExt;

use crate::engine::{Engine, EngineError};
use crate::kind::RuntimeKind;

/// Force-removes a container and its anonymous volumes; one that is already gone, or that the
/// engine is removing already (`AutoRemove`), is fine.
pub async fn remove_container(engine: &Engine, id: &str) -> Result<(), EngineError> {
    let removed = engine
        .call(
            "DELETE /containers/{id}",
            engine.docker().remove_container(
                id,
                Some(RemoveContainerOptions {
                    force: true,
                    v: true,
                    link: false,
                }),
            ),
        )
        .await;
    match removed {
        Err(EngineError::Api {
            status: Some(404), ..
        }) => Ok(()),
        // The engine is removing it already (AutoRemove): done when that is.
        Err(EngineError::Api {
            status: Some(409), ..
        }) => {
            let mut removal = engine.docker().wait_container(
                id,
                Some(WaitContainerOptions {
                    condition: "removed".to_owned(),
                }),
            );
            // Any answer (even "no such container") means the removal is over.
            let _ = tokio::time::timeout(engine.deadline(), removal.next()).await;
            Ok(())
        }
        other => other,
    }
}

/// Removes its container on drop unless [`ContainerGuard::remove`] did.
#[derive(Debug)]
pub struct ContainerGuard {
    id: String,
    /// `None` once removed.
    engine: Option<Engine>,
}

impl ContainerGuard {
    /// Guards container `id` of `engine`.
    pub fn new(engine: &Engine, id: String) -> Self {
        Self {
            id,
            engine: Some(engine.clone()),
        }
    }

    /// The container's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Removes the container now.
    pub async fn remove(mut self) -> Result<(), EngineError> {
        match self.engine.take() {
            Some(engine) => remove_container(&engine, &self.id).await,
            None => Ok(()),
        }
    }
}

impl Drop for ContainerGuard {
    /// Removes the container on a thread of its own, with a connection of its own: the caller's
    /// runtime may be busy or shutting down, and a drop cannot await.
    fn drop(&mut self) {
        let Some(engine) = self.engine.take() else {
            return;
        };
        let id = std::mem::take(&mut self.id);
        let removal = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                let kind = RuntimeKind::Custom;
                if let Ok(fresh) = Engine::connect(engine.endpoint(), kind, engine.deadline()).await
                {
                    let _ = remove_container(&fresh, &id).await;
                }
            });
        });
        let _ = removal.join();
    }
}
