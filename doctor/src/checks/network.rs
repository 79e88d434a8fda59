//! `network-isolation`: whether a container reaches services on this host and its network.
//!
//! doctor opens its own listeners ([`Listeners`]) on this host's non-loopback addresses (or on
//! the `--probe-address` list), then two probe containers try to connect to each of them and to
//! the VM's host aliases: one with the engine's default networking (what the plain Duo container
//! gets), one with dw's sandbox networking (`none`). The probes connect to nothing else, and a
//! connection only counts as reaching doctor when doctor's greeting comes back.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use futures_util::future::BoxFuture;

use crate::check::{CheckError, CheckResult};
use crate::context::Context;
use crate::finding::Outcome;
use crate::listener::{Connection, Listeners};
use crate::probe::{self, Networking, Probe, ProbeError, ProbeTarget};

/// The names a VM-backed runtime gives its host inside containers.
pub const HOST_ALIASES: &[&str] = &["host.docker.internal", "host.lima.internal"];

/// `$1` is the port, the rest are hosts. Each host is tried at once, in the background; a
/// connection that succeeds prints the first line it reads.
const SCRIPT: &str = r#"
port=$1
shift
for host in "$@"; do
    (
        if answer=$(timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2" || exit 1; IFS= read -r -t 2 line <&3; printf "%s" "$line"' connect "$host" "$port" 2>&1); then
            printf 'reached %s %s\n' "$host" "$answer"
        else
            if [ "$?" = 124 ]; then answer="no answer within 3s"; fi
            answer=${answer%%$'\n'*}
            printf 'unreachable %s %s\n' "$host" "${answer##*: }"
        fi
    ) &
done
wait
echo dw-probe-done
"#;

/// `network-isolation`.
pub fn network_isolation(context: &Context) -> BoxFuture<'_, CheckResult> {
    Box::pin(async move {
        let engine = super::engine(context)?;
        let settings = &context.settings.probe;
        if !settings.enabled {
            return Ok(Outcome::skip(
                "--no-probe: no probe container was started, so what containers can reach was not checked",
            ));
        }
        let targets = if settings.addresses.is_empty() {
            default_targets()?
        } else {
            settings.addresses.clone()
        };
        let listeners = Listeners::open(&listen_addresses(&targets)).await?;
        let mut arguments = vec![listeners.port().to_string()];
        arguments.extend(targets.iter().map(ProbeTarget::host));
        let probe_with = |purpose, networking| Probe {
            purpose,
            networking,
            script: SCRIPT,
            arguments: arguments.clone(),
        };
        let default = probe_with(
            "network-default",
            Networking::Default {
                network: settings.network.clone(),
            },
        );
        let sandbox = probe_with("network-sandbox", Networking::Sandbox);
        let home = &context.settings.discovery.home;
        let image = &context.settings.image;
        let (default_output, sandbox_output) = futures_util::future::join(
            probe::run(&engine.engine, settings, home, image, &default),
            probe::run(&engine.engine, settings, home, image, &sandbox),
        )
        .await;
        let (default_output, sandbox_output) = match (default_output, sandbox_output) {
            (Ok(default), Ok(sandbox)) => (default, sandbox),
            (Err(error @ ProbeError::ImageMissing { .. }), _)
            | (_, Err(error @ ProbeError::ImageMissing { .. })) => {
                return Ok(Outcome::skip(error.to_string()));
            }
            (Err(error), _) | (_, Err(error)) => return Err(error.into()),
        };
        let attempts = |lines: &[String]| parse(lines, &listeners);
        Ok(judge(
            &targets,
            listeners.port(),
            listeners.addresses(),
            &[
                (default.networking, attempts(&default_output.lines)),
                (sandbox.networking, attempts(&sandbox_output.lines)),
            ],
            &listeners.connections(),
        ))
    })
}

/// This host's non-loopback addresses and the host aliases.
fn default_targets() -> Result<Vec<ProbeTarget>, CheckError> {
    let addresses = crate::listener::host_addresses().map_err(CheckError::Interfaces)?;
    Ok(addresses
        .into_iter()
        .map(ProbeTarget::Address)
        .chain(
            HOST_ALIASES
                .iter()
                .map(|alias| ProbeTarget::Name((*alias).to_owned())),
        )
        .collect())
}

/// The addresses among `targets`, and the loopback addresses when a name is among them: a
/// VM's host alias (Docker Desktop's, Lima's) leads to the host's loopback interface.
fn listen_addresses(targets: &[ProbeTarget]) -> Vec<IpAddr> {
    let mut addresses: Vec<IpAddr> = targets
        .iter()
        .filter_map(|target| match target {
            ProbeTarget::Address(address) => Some(*address),
            ProbeTarget::Name(_) => None,
        })
        .collect();
    if targets
        .iter()
        .any(|target| matches!(target, ProbeTarget::Name(_)))
    {
        addresses.push(IpAddr::V4(Ipv4Addr::LOCALHOST));
        let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
        if std::net::TcpListener::bind((v6, 0)).is_ok() {
            addresses.push(v6);
        }
    }
    addresses.sort();
    addresses.dedup();
    addresses
}

/// What one connection attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// doctor's listener on this address answered.
    Listener(IpAddr),
    /// A connection, but something other than doctor answered (or nothing did).
    Other(String),
    /// No connection, and why.
    Unreachable(String),
}

/// One target as one probe saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The host tried.
    pub host: String,
    /// What came of it.
    pub reach: Reach,
}

/// The probe's `reached HOST ANSWER` and `unreachable HOST REASON` lines.
fn parse(lines: &[String], listeners: &Listeners) -> Vec<Attempt> {
    lines
        .iter()
        .filter_map(|line| {
            let (verdict, rest) = line.split_once(' ')?;
            let (host, detail) = rest.split_once(' ').unwrap_or((rest, ""));
            let reach = match verdict {
                "reached" => match listeners.recognise(detail) {
                    Some(address) => Reach::Listener(address),
                    None => Reach::Other(detail.trim().to_owned()),
                },
                "unreachable" => Reach::Unreachable(reason(detail)),
                _ => return None,
            };
            Some(Attempt {
                host: host.to_owned(),
                reach,
            })
        })
        .collect()
}

/// `connection refused` from bash's `Connection refused`.
fn reason(detail: &str) -> String {
    let detail = detail.trim();
    if detail.is_empty() {
        return "no connection".to_owned();
    }
    let mut characters = detail.chars();
    characters
        .next()
        .map(|first| first.to_lowercase().chain(characters).collect())
        .unwrap_or_default()
}

const WARN_SUMMARY: &str = "containers on this engine can reach services on your host and network";

const WARN_FIX: &str = "dw's sandbox has no network unless you pass --allow-network, so the agent cannot reach these; containers started otherwise (the plain Duo Workflow container too) can: have services on this machine listen on 127.0.0.1 rather than on every address, and run Duo Workflow through dw's sandbox (`dw run --duo`)";

const FAIL_FIX: &str = "do not run the agent on this engine: it connected a container that dw started with `NetworkMode: none`; update the engine (see engine-advisories) or move to a runtime dw sets up (`dw setup`)";

/// The verdict from what each probe reached: the sandbox reaching anything fails, the default
/// networking reaching anything warns.
pub fn judge(
    targets: &[ProbeTarget],
    port: u16,
    listening: &[IpAddr],
    probes: &[(Networking, Vec<Attempt>)],
    accepted: &[Connection],
) -> Outcome {
    let listening: Vec<String> = listening.iter().map(ToString::to_string).collect();
    let mut evidence = vec![format!(
        "doctor listened on {} at port {port}; the probes connect to nothing else",
        listening.join(", ")
    )];
    let mut default_reached = false;
    let mut sandbox_reached = false;
    for (networking, attempts) in probes {
        let label = networking.describe();
        let mut reached = false;
        for target in targets {
            let address = target.with_port(port);
            let host = target.host();
            let line = match attempts.iter().find(|attempt| attempt.host == host) {
                Some(Attempt {
                    reach: Reach::Listener(listener),
                    ..
                }) => {
                    reached = true;
                    if listener.to_string() == host {
                        format!("{label}: reached {address}: doctor's listener answered")
                    } else {
                        format!(
                            "{label}: reached {address}: doctor's listener on {listener} answered"
                        )
                    }
                }
                Some(Attempt {
                    reach: Reach::Other(answer),
                    ..
                }) => {
                    reached = true;
                    if answer.is_empty() {
                        format!("{label}: connected to {address}, which did not answer")
                    } else {
                        format!(
                            "{label}: connected to {address}, and something other than doctor answered"
                        )
                    }
                }
                Some(Attempt {
                    reach: Reach::Unreachable(reason),
                    ..
                }) => format!("{label}: {address} not reachable ({reason})"),
                None => format!("{label}: {address} was not tried"),
            };
            evidence.push(line);
        }
        match networking {
            Networking::Sandbox => sandbox_reached |= reached,
            Networking::Default { .. } => default_reached |= reached,
        }
    }
    let mut peers: Vec<IpAddr> = accepted
        .iter()
        .map(|connection| connection.peer.ip())
        .collect();
    peers.sort();
    peers.dedup();
    evidence.push(if peers.is_empty() {
        "doctor's listeners accepted no connection".to_owned()
    } else {
        let peers: Vec<String> = peers.iter().map(ToString::to_string).collect();
        format!(
            "doctor's listeners accepted connections from {}",
            peers.join(", ")
        )
    });
    if sandbox_reached {
        return Outcome::fail(
            "dw's sandbox reached services on your host although it has no network",
        )
        .evidence_lines(evidence)
        .fix(FAIL_FIX);
    }
    if default_reached {
        evidence.push(
            "dw's sandbox (network none) reached none of them: a pass for dw's own sandbox"
                .to_owned(),
        );
        return Outcome::warn(WARN_SUMMARY)
            .evidence_lines(evidence)
            .fix(WARN_FIX);
    }
    Outcome::pass(
        "containers with the engine's default networking reached none of doctor's listeners",
    )
    .evidence_lines(evidence)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::finding::Status;

    fn attempt(host: &str, reach: Reach) -> Attempt {
        Attempt {
            host: host.to_owned(),
            reach,
        }
    }

    fn gateway() -> IpAddr {
        "172.30.0.1".parse().unwrap()
    }

    fn targets() -> Vec<ProbeTarget> {
        vec![
            ProbeTarget::Address(gateway()),
            ProbeTarget::Name("host.docker.internal".to_owned()),
        ]
    }

    fn unreachable(reason: &str) -> Reach {
        Reach::Unreachable(reason.to_owned())
    }

    #[test]
    fn reachable_with_default_networking_warns_and_the_sandbox_passes() {
        let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let outcome = judge(
            &targets(),
            41235,
            &[loopback, gateway()],
            &[
                (
                    Networking::Default { network: None },
                    vec![
                        attempt("172.30.0.1", Reach::Listener(gateway())),
                        attempt("host.docker.internal", Reach::Listener(loopback)),
                    ],
                ),
                (
                    Networking::Sandbox,
                    vec![
                        attempt("172.30.0.1", unreachable("network is unreachable")),
                        attempt(
                            "host.docker.internal",
                            unreachable("name or service not known"),
                        ),
                    ],
                ),
            ],
            &[
                Connection {
                    listener: gateway(),
                    peer: "172.30.0.2:40000".parse().unwrap(),
                },
                Connection {
                    listener: loopback,
                    peer: "172.30.0.2:40002".parse().unwrap(),
                },
            ],
        );
        assert_eq!(outcome.status, Status::Warn, "{outcome:#?}");
        assert_eq!(outcome.summary, WARN_SUMMARY);
        assert_eq!(
            outcome.evidence,
            [
                "doctor listened on 127.0.0.1, 172.30.0.1 at port 41235; the probes connect to nothing else",
                "default networking (bridge): reached 172.30.0.1:41235: doctor's listener answered",
                "default networking (bridge): reached host.docker.internal:41235: doctor's listener on 127.0.0.1 answered",
                "dw's sandbox (network none): 172.30.0.1:41235 not reachable (network is unreachable)",
                "dw's sandbox (network none): host.docker.internal:41235 not reachable (name or service not known)",
                "doctor's listeners accepted connections from 172.30.0.2",
                "dw's sandbox (network none) reached none of them: a pass for dw's own sandbox",
            ]
        );
        assert!(outcome.fix.unwrap().contains("--allow-network"));
    }

    #[test]
    fn nothing_reached_passes_and_a_sandbox_that_reaches_fails() {
        let nothing = vec![
            attempt("172.30.0.1", unreachable("connection refused")),
            attempt("host.docker.internal", unreachable("no answer within 3s")),
        ];
        let outcome = judge(
            &targets(),
            1,
            &[gateway()],
            &[
                (Networking::Default { network: None }, nothing.clone()),
                (Networking::Sandbox, nothing.clone()),
            ],
            &[],
        );
        assert_eq!(outcome.status, Status::Pass, "{outcome:#?}");
        assert_eq!(outcome.fix, None);
        assert_eq!(
            outcome.evidence.last().map(String::as_str),
            Some("doctor's listeners accepted no connection")
        );

        let outcome = judge(
            &targets(),
            1,
            &[gateway()],
            &[
                (Networking::Default { network: None }, nothing),
                (
                    Networking::Sandbox,
                    vec![attempt("172.30.0.1", Reach::Other(String::new()))],
                ),
            ],
            &[],
        );
        assert_eq!(outcome.status, Status::Fail, "{outcome:#?}");
        assert!(
            outcome.evidence.contains(
                &"dw's sandbox (network none): connected to 172.30.0.1:1, which did not answer"
                    .to_owned()
            ),
            "{outcome:#?}"
        );
    }

    #[tokio::test]
    async fn probe_lines_are_read_and_only_doctors_greeting_counts() {
        let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let listeners = Listeners::open(&[loopback]).await.unwrap();
        let stream = tokio::net::TcpStream::connect((loopback, listeners.port()))
            .await
            .unwrap();
        let mut greeting = String::new();
        tokio::io::AsyncBufReadExt::read_line(
            &mut tokio::io::BufReader::new(stream),
            &mut greeting,
        )
        .await
        .unwrap();
        let lines = [
            format!("reached 127.0.0.1 {}", greeting.trim_end()),
            "reached host.docker.internal SSH-2.0-OpenSSH_9.2".to_owned(),
            "unreachable 10.1.2.3 Network is unreachable".to_owned(),
            "unreachable host.lima.internal ".to_owned(),
            "noise".to_owned(),
        ];
        assert_eq!(
            parse(&lines, &listeners),
            [
                attempt("127.0.0.1", Reach::Listener(loopback)),
                attempt(
                    "host.docker.internal",
                    Reach::Other("SSH-2.0-OpenSSH_9.2".to_owned())
                ),
                attempt("10.1.2.3", unreachable("network is unreachable")),
                attempt("host.lima.internal", unreachable("no connection")),
            ]
        );
    }

    #[test]
    fn names_bring_loopback_listeners_and_addresses_are_their_own() {
        let only_addresses = listen_addresses(&[ProbeTarget::Address(gateway())]);
        assert_eq!(only_addresses, [gateway()]);
        let with_alias = listen_addresses(&targets());
        assert!(with_alias.contains(&IpAddr::V4(Ipv4Addr::LOCALHOST)));
        assert!(with_alias.contains(&gateway()));
    }

    #[test]
    fn the_script_ends_with_the_done_line() {
        assert!(
            SCRIPT
                .trim_end()
                .ends_with(&format!("echo {}", crate::probe::DONE))
        );
    }
}
