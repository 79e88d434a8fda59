//! `engine-reachable`, `shared-vm` and `base-image`: what the engine itself answers.

use std::collections::HashMap;

use bollard::query_parameters::ListContainersOptions;
use dw_runtime::engine::EngineError;
use dw_runtime::image::WORKFLOW_LABEL;
use futures_util::future::BoxFuture;

use crate::check::CheckResult;
use crate::context::Context;
use crate::finding::Outcome;

/// `engine-reachable`: which engine dw uses, that it answers, and its API version.
pub fn reachable(context: &Context) -> BoxFuture<'_, CheckResult> {
    Box::pin(async move {
        let discovery = &context.discovery;
        let Some(engine) = &context.engine else {
            let mut outcome = Outcome::fail("no container engine answers").evidence_lines(
                discovery.runtimes.iter().map(|runtime| {
                    format!(
                        "{} ({}): {}",
                        runtime.source,
                        runtime.endpoint,
                        runtime.error.as_deref().unwrap_or("did not answer")
                    )
                }),
            );
            if discovery.runtimes.is_empty() {
                outcome = outcome.evidence("no engine socket found at any known place, and neither --host nor DOCKER_HOST is set");
            }
            let fix = discovery
                .runtimes
                .first()
                .map(|runtime| {
                    format!(
                        "{}; or run `dw setup` to install and start Colima",
                        runtime.kind.start_hint()
                    )
                })
                .unwrap_or_else(|| {
                    "run `dw setup` to install and start Colima, or pass --host".to_owned()
                });
            return Ok(outcome
                .evidence_lines(discovery.warnings.iter().cloned())
                .fix(fix));
        };
        let facts = &engine.facts;
        let mut outcome = Outcome::pass(format!(
            "{} {} (API {}) at {}",
            engine.kind.display_name(),
            facts.server_version,
            facts.api_version,
            engine.endpoint
        ));
        if let Some(reason) = discovery.selection_reason() {
            outcome = outcome.evidence(reason);
        }
        Ok(outcome
            .evidence(format!(
                "OperatingSystem {:?}, Name {:?}, kernel {}",
                facts.operating_system, facts.name, facts.kernel_version
            ))
            .evidence_lines(discovery.warnings.iter().cloned()))
    })
}

/// `shared-vm`: other containers running on the same engine, not labelled by dw.
pub fn shared_vm(context: &Context) -> BoxFuture<'_, CheckResult> {
    Box::pin(async move {
        let engine = super::engine(context)?;
        let options = ListContainersOptions {
            all: false,
            ..ListContainersOptions::default()
        };
        let containers = engine
            .engine
            .call(
                "GET /containers/json",
                engine.engine.docker().list_containers(Some(options)),
            )
            .await?;
        let others: Vec<String> = containers
            .iter()
            .filter(|container| {
                !container
                    .labels
                    .as_ref()
                    .is_some_and(|labels: &HashMap<String, String>| {
                        labels.contains_key(WORKFLOW_LABEL)
                    })
            })
            .map(|container| {
                let name = container
                    .names
                    .as_ref()
                    .and_then(|names| names.first())
                    .map(|name| name.trim_start_matches('/').to_owned())
                    .or_else(|| {
                        container
                            .id
                            .as_ref()
                            .map(|id| id.chars().take(12).collect())
                    })
                    .unwrap_or_else(|| "unnamed".to_owned());
                match &container.image {
                    Some(image) => format!("{name} ({image})"),
                    None => name,
                }
            })
            .collect();
        if others.is_empty() {
            return Ok(Outcome::pass("no other containers run on this engine"));
        }
        Ok(Outcome::warn(format!(
            "{} other container{} run{} on this engine",
            others.len(),
            if others.len() == 1 { "" } else { "s" },
            if others.len() == 1 { "s" } else { "" }
        ))
        .evidence_lines(others)
        .evidence("containers on one engine share its kernel and VM: a container that escapes reaches the others")
        .fix("run the agent on an engine of its own (a separate Colima profile: `colima start --profile dw`), or stop the containers you do not need"))
    })
}

/// `base-image`: the workflow base image is on the engine.
pub fn base_image(context: &Context) -> BoxFuture<'_, CheckResult> {
    Box::pin(async move {
        let engine = super::engine(context)?;
        let image = &context.settings.image;
        let inspected = engine
            .engine
            .call(
                "GET /images/{name}/json",
                engine.engine.docker().inspect_image(image),
            )
            .await;
        match inspected {
            Ok(details) => {
                let mut evidence: Vec<String> = details
                    .repo_digests
                    .iter()
                    .flatten()
                    .map(|digest| format!("digest {digest}"))
                    .collect();
                if evidence.is_empty() {
                    evidence.push(
                        "no repository digest: the image was built or loaded here, not pulled"
                            .to_owned(),
                    );
                }
                if let Some(id) = &details.id {
                    evidence.push(format!("image ID {id}"));
                }
                evidence.push(format!(
                    "created {}, {}",
                    details.created.as_deref().unwrap_or("at an unknown time"),
                    details
                        .size
                        .and_then(|size| u64::try_from(size).ok())
                        .map_or_else(|| "size unknown".to_owned(), super::gibibytes)
                ));
                Ok(Outcome::pass(format!("{image} is present")).evidence_lines(evidence))
            }
            Err(EngineError::Api {
                status: Some(404), ..
            }) => Ok(Outcome::warn(format!("{image} is not on the engine"))
                .evidence("the first `dw run` would have to pull it")
                .fix(format!(
                    "run `dw setup --only pull`, or `docker pull {image}`"
                ))),
            Err(error) => Err(error.into()),
        }
    })
}
