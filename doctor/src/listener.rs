//! doctor's own TCP listeners, the only things the network probe ever connects to.
//!
//! [`Listeners::open`] listens on each given address of this host at one shared port, so that a
//! name the probe resolves to any of them (a VM's host alias) lands on a doctor listener too.
//! Each accepted connection is greeted with `dw-doctor <nonce> <listener address>`: the probe
//! prints what it read, and [`Listeners::recognise`] tells doctor's greeting from anything else
//! that might answer at that port.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// How many shared ports are tried before giving up.
const PORT_ATTEMPTS: usize = 16;

/// The first word of every greeting.
const GREETING: &str = "dw-doctor";

/// The addresses of this host's network interfaces that a container could be routed to: every
/// address but loopback and link-local ones, without duplicates, sorted.
pub fn host_addresses() -> std::io::Result<Vec<IpAddr>> {
    let mut addresses: Vec<IpAddr> = nix::ifaddrs::getifaddrs()
        .map_err(std::io::Error::from)?
        .filter_map(|interface| {
            let address = interface.address?;
            if let Some(v4) = address.as_sockaddr_in() {
                return Some(IpAddr::V4(v4.ip()));
            }
            address.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
        })
        .filter(|address| !address.is_loopback() && !is_link_local(address))
        .collect();
    addresses.sort();
    addresses.dedup();
    Ok(addresses)
}

fn is_link_local(address: &IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    }
}

/// One connection a listener accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connection {
    /// The listener's address.
    pub listener: IpAddr,
    /// Who connected.
    pub peer: SocketAddr,
}

/// Why doctor could not listen.
#[derive(Debug, thiserror::Error)]
#[error("doctor cannot listen on {address} for the network probe: {source}")]
pub struct ListenError {
    /// Where.
    pub address: IpAddr,
    /// The operating system's error.
    #[source]
    pub source: std::io::Error,
}

/// Listeners on several addresses at one port; they stop when dropped.
#[derive(Debug)]
pub struct Listeners {
    port: u16,
    nonce: String,
    addresses: Vec<IpAddr>,
    connections: Arc<Mutex<Vec<Connection>>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Listeners {
    /// Listens on every one of `addresses` (at least one) at one port, chosen by the system.
    pub async fn open(addresses: &[IpAddr]) -> Result<Self, ListenError> {
        let mut last_error = None;
        for _ in 0..PORT_ATTEMPTS {
            match bind_all(addresses).await {
                Ok((port, bound)) => return Ok(Self::serve(port, bound)),
                Err(error) if error.source.kind() == std::io::ErrorKind::AddrInUse => {
                    last_error = Some(error);
                }
                Err(error) => return Err(error),
            }
        }
        Err(last_error.unwrap_or_else(|| ListenError {
            address: IpAddr::from([127, 0, 0, 1]),
            source: std::io::Error::other("no address to listen on"),
        }))
    }

    fn serve(port: u16, bound: Vec<(IpAddr, TcpListener)>) -> Self {
        let nonce = nonce();
        let connections = Arc::new(Mutex::new(Vec::new()));
        let addresses = bound.iter().map(|(address, _)| *address).collect();
        let tasks = bound
            .into_iter()
            .map(|(address, listener)| {
                let greeting = format!("{GREETING} {nonce} {address}\n");
                let connections = Arc::clone(&connections);
                tokio::spawn(accept(listener, address, greeting, connections))
            })
            .collect();
        Self {
            port,
            nonce,
            addresses,
            connections,
            tasks,
        }
    }

    /// The port every listener uses.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Where doctor listens.
    pub fn addresses(&self) -> &[IpAddr] {
        &self.addresses
    }

    /// The listener whose greeting `answer` is, if it is one of this run's.
    pub fn recognise(&self, answer: &str) -> Option<IpAddr> {
        let mut words = answer.split_whitespace();
        if words.next() != Some(GREETING) || words.next() != Some(self.nonce.as_str()) {
            return None;
        }
        let address = words.next()?.parse().ok()?;
        self.addresses.contains(&address).then_some(address)
    }

    /// Every connection accepted so far.
    pub fn connections(&self) -> Vec<Connection> {
        self.connections
            .lock()
            .map(|connections| connections.clone())
            .unwrap_or_default()
    }
}

impl Drop for Listeners {
    fn drop(&mut self) {
        self.tasks.iter().for_each(JoinHandle::abort);
    }
}

async fn bind_all(addresses: &[IpAddr]) -> Result<(u16, Vec<(IpAddr, TcpListener)>), ListenError> {
    let mut port = 0;
    let mut bound = Vec::new();
    for address in addresses {
        let listener = TcpListener::bind((*address, port))
            .await
            .map_err(|source| ListenError {
                address: *address,
                source,
            })?;
        if port == 0 {
            port = listener
                .local_addr()
                .map_err(|source| ListenError {
                    address: *address,
                    source,
                })?
                .port();
        }
        bound.push((*address, listener));
    }
    Ok((port, bound))
}

async fn accept(
    listener: TcpListener,
    address: IpAddr,
    greeting: String,
    connections: Arc<Mutex<Vec<Connection>>>,
) {
    while let Ok((mut stream, peer)) = listener.accept().await {
        if let Ok(mut connections) = connections.lock() {
            connections.push(Connection {
                listener: address,
                peer,
            });
        }
        // A probe that went away before reading is no error of doctor's.
        let _ = stream.write_all(greeting.as_bytes()).await;
        let _ = stream.shutdown().await;
    }
}

/// 64 random bits in hex, from the standard library's randomly seeded hasher.
fn nonce() -> String {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos())
            .unwrap_or_default(),
    );
    format!("{:016x}", hasher.finish())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tokio::io::AsyncBufReadExt;

    #[tokio::test]
    async fn a_listener_greets_with_its_nonce_and_records_the_connection() {
        let loopback = IpAddr::from([127, 0, 0, 1]);
        let listeners = Listeners::open(&[loopback]).await.unwrap();
        let stream = tokio::net::TcpStream::connect((loopback, listeners.port()))
            .await
            .unwrap();
        let mut answer = String::new();
        tokio::io::BufReader::new(stream)
            .read_line(&mut answer)
            .await
            .unwrap();
        assert_eq!(listeners.recognise(&answer), Some(loopback));
        assert_eq!(listeners.connections().len(), 1);
        assert_eq!(listeners.connections()[0].listener, loopback);
        assert_eq!(listeners.recognise("dw-doctor 0000 127.0.0.1"), None);
        assert_eq!(listeners.recognise("SSH-2.0-OpenSSH_9.2"), None);
    }

    #[test]
    fn host_addresses_leave_out_loopback_and_link_local() {
        let addresses = host_addresses().unwrap();
        assert!(
            addresses
                .iter()
                .all(|address| !address.is_loopback() && !is_link_local(address)),
            "{addresses:?}"
        );
        assert!(is_link_local(&"fe80::1".parse().unwrap()));
        assert!(is_link_local(&"169.254.1.1".parse().unwrap()));
        assert!(!is_link_local(&"fd00::1".parse().unwrap()));
    }
}
