//! `socket-permissions`: whether this user can use the engine's socket.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use dw_runtime::endpoint::Endpoint;
use dw_runtime::host::{Membership, group_membership, group_name, user_name};
use futures_util::future::BoxFuture;

use crate::check::CheckResult;
use crate::context::Context;
use crate::finding::Outcome;

/// `socket-permissions`: owner, group and mode of the socket, and how this user gets in.
pub fn permissions(context: &Context) -> BoxFuture<'_, CheckResult> {
    Box::pin(std::future::ready(Ok(assess(context))))
}

fn assess(context: &Context) -> Outcome {
    let runtime = context.discovery.selected().or_else(|| {
        context
            .discovery
            .runtimes
            .iter()
            .find(|runtime| runtime.exists)
    });
    let Some(runtime) = runtime else {
        return Outcome::skip("no engine socket exists (see engine-reachable)");
    };
    let Ok(Endpoint::Unix(path)) = Endpoint::parse(&runtime.endpoint) else {
        return Outcome::skip(format!("{} is not a unix socket", runtime.endpoint));
    };
    let metadata = match std::fs::metadata(&path) {
        Ok(metadata) => metadata,
        Err(error) => {
            return Outcome::fail(format!("cannot read {}: {error}", path.display()))
                .fix("check the directories on the way to the socket are searchable by you");
        }
    };
    let owner = user_name(metadata.uid());
    let group = group_name(metadata.gid());
    let mode = metadata.mode() & 0o7777;
    let described = format!(
        "{}: owner {owner}, group {group}, mode {mode:o}",
        path.display()
    );
    if runtime.reachable {
        return reachable(
            &path,
            &described,
            metadata.uid(),
            metadata.gid(),
            &group,
            mode,
        );
    }
    let error = runtime.error.as_deref().unwrap_or_default();
    if error.contains("permission denied") {
        return Outcome::fail(format!("you may not use {}", path.display()))
            .evidence(described)
            .evidence(error.to_owned())
            .fix(
                error
                    .rsplit_once("): ")
                    .map_or(error, |(_, hint)| hint)
                    .to_owned(),
            );
    }
    Outcome::skip(format!(
        "{} does not answer for another reason (see engine-reachable)",
        path.display()
    ))
}

fn reachable(path: &Path, described: &str, uid: u32, gid: u32, group: &str, mode: u32) -> Outcome {
    let me = nix::unistd::getuid().as_raw();
    let access = if me == 0 {
        "you are root".to_owned()
    } else if me == uid {
        "you own the socket".to_owned()
    } else if group_membership(gid) == Membership::Active && mode & 0o060 == 0o060 {
        format!("through group `{group}`, which is equivalent to root on the engine's machine")
    } else {
        "through the socket's mode".to_owned()
    };
    let outcome = Outcome::pass(format!("you can use {} ({access})", path.display()))
        .evidence(described.to_owned());
    if mode & 0o002 != 0 {
        return Outcome::warn(format!("{} is open to every user of this machine", path.display()))
            .evidence(described.to_owned())
            .fix(format!("remove the world bits: `sudo chmod o-rwx {}`, and restart the runtime if it recreates the socket", path.display()));
    }
    outcome
}
