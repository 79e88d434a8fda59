//! The direct route: the Duo Workflow Service's gRPC stream
//! `DuoWorkflow/ExecuteWorkflow(stream ClientEvent) returns (stream Action)`.
//!
//! [`proto`] is generated from `proto/contract.proto` (a faithful subset of GitLab's
//! contract) and checked in; [`convert`] maps it to and from [`crate::message`], so the rest of
//! dw sees one model whatever the transport.

pub mod convert;

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::transport::{ClientTlsConfig, Endpoint};

use crate::api::ServiceAccess;
use crate::error::{Error, Result, grpc_hint};
use crate::message::{Action, ClientEvent};
use crate::session::Session;
use crate::token::Token;

/// The prost and tonic code generated from `proto/contract.proto`, client and server.
#[allow(
    missing_docs,
    clippy::all,
    clippy::pedantic,
    clippy::unwrap_used,
    clippy::expect_used
)]
pub mod proto {
    include!("contract.rs");
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Events and actions buffered between the session and the stream task.
const BUFFER: usize = 32;

/// Where and how to reach the service.
#[derive(Debug, Clone)]
pub struct GrpcTarget {
    /// The service URL with its scheme, e.g. `https://cloud.gitlab.com:443`.
    pub url: String,
    /// The service token, sent as `authorization: Bearer`.
    pub token: Token,
    /// Further metadata (header names are lower-cased).
    pub metadata: BTreeMap<String, String>,
}

impl GrpcTarget {
    /// The target described by `direct_access`: its address (with `https://` when `secure`,
    /// `http://` otherwise, unless it has a scheme), its token, its headers, and
    /// `x-gitlab-authentication-type: oidc` as GitLab's own clients send it.
    pub fn from_direct_access(service: &ServiceAccess) -> Self {
        let url = if service.base_url.contains("://") {
            service.base_url.clone()
        } else {
            let scheme = if service.secure { "https" } else { "http" };
            format!("{scheme}://{}", service.base_url)
        };
        let mut metadata: BTreeMap<String, String> = service
            .headers
            .iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value.clone()))
            .collect();
        metadata
            .entry("x-gitlab-authentication-type".to_owned())
            .or_insert_with(|| "oidc".to_owned());
        Self {
            url,
            token: service.token.clone(),
            metadata,
        }
    }

    /// Connects and opens the `ExecuteWorkflow` stream (no event sent yet; [`crate::connect`]
    /// sends the `startRequest`).
    pub async fn connect(&self) -> Result<GrpcSession> {
        let metadata = self.metadata_map()?;
        let mut endpoint = Endpoint::from_shared(self.url.clone())
            .map_err(|source| self.connect_error(source))?
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true);
        if self.url.starts_with("https://") {
            endpoint = endpoint
                .tls_config(ClientTlsConfig::new().with_native_roots())
                .map_err(|source| self.connect_error(source))?;
        }
        let channel = endpoint
            .connect()
            .await
            .map_err(|source| self.connect_error(source))?;
        let mut client = proto::duo_workflow_client::DuoWorkflowClient::new(channel);

        let (outbound, outbound_receiver) = mpsc::channel::<proto::ClientEvent>(BUFFER);
        let (inbound_sender, inbound) = mpsc::channel::<Result<Action>>(BUFFER);
        let requests = futures_util::stream::unfold(outbound_receiver, |mut receiver| async move {
            receiver.recv().await.map(|event| (event, receiver))
        });
        let mut request = tonic::Request::new(requests);
        *request.metadata_mut() = metadata;
        // The call runs in its own task: the service reads the startRequest before it answers
        // with headers, so the call must be in flight while the session sends.
        // Dropped when the call ends, however it ends: `send` stops waiting for room then.
        let (alive, finished) = watch::channel(());
        let task = tokio::spawn(async move {
            let _alive = alive;
            let mut actions = match client.execute_workflow(request).await {
                Ok(response) => response.into_inner(),
                Err(status) => {
                    let _closed = inbound_sender.send(Err(status_error(&status))).await;
                    return;
                }
            };
            loop {
                let item = match actions.message().await {
                    Ok(Some(action)) => Ok(Action::from(action)),
                    Ok(None) => return,
                    Err(status) => Err(status_error(&status)),
                };
                let failed = item.is_err();
                if inbound_sender.send(item).await.is_err() || failed {
                    return;
                }
            }
        });
        Ok(GrpcSession {
            outbound: Some(outbound),
            inbound,
            finished,
            task,
        })
    }

    fn metadata_map(&self) -> Result<MetadataMap> {
        let mut map = MetadataMap::new();
        let pairs = std::iter::once(("authorization".to_owned(), self.token.bearer())).chain(
            self.metadata
                .iter()
                .map(|(name, value)| (name.to_ascii_lowercase(), value.clone())),
        );
        for (name, value) in pairs {
            let key = MetadataKey::from_bytes(name.as_bytes())
                .map_err(|_| Error::InvalidHeader { name: name.clone() })?;
            let value = MetadataValue::try_from(value.as_str())
                .map_err(|_| Error::InvalidHeader { name })?;
            map.insert(key, value);
        }
        Ok(map)
    }

    fn connect_error(&self, source: tonic::transport::Error) -> Error {
        Error::GrpcConnect {
            url: self.url.clone(),
            source,
        }
    }
}

/// An open `ExecuteWorkflow` stream. Dropping it cancels the call.
#[derive(Debug)]
pub struct GrpcSession {
    outbound: Option<mpsc::Sender<proto::ClientEvent>>,
    inbound: mpsc::Receiver<Result<Action>>,
    /// Changes (its sender is dropped) when the call has ended.
    finished: watch::Receiver<()>,
    task: JoinHandle<()>,
}

impl Session for GrpcSession {
    async fn send(&mut self, event: ClientEvent) -> Result<()> {
        let outbound = self.outbound.as_ref().ok_or(Error::Closed)?;
        let mut finished = self.finished.clone();
        tokio::select! {
            sent = outbound.send(proto::ClientEvent::from(event)) => sent.map_err(|_| Error::Closed),
            // The call is over: nothing reads the request stream any more (the transport may
            // hold it open), so waiting for room would wait forever once the buffer is full.
            // The event cannot be delivered; `next` tells how the call ended.
            _ = finished.changed() => Ok(()),
        }
    }

    async fn next(&mut self) -> Option<Result<Action>> {
        self.inbound.recv().await
    }

    async fn close(&mut self) -> Result<()> {
        // Dropping the sender ends the request stream: the service sees the client half-close.
        self.outbound = None;
        Ok(())
    }
}

impl Drop for GrpcSession {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn status_error(status: &tonic::Status) -> Error {
    Error::Grpc {
        code: status.code(),
        message: status.message().to_owned(),
        hint: grpc_hint(status.code()),
    }
}
