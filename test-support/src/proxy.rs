//! A TCP proxy on 127.0.0.1 that can hold a transfer in the middle: a fault test puts it in
//! front of the local registry to catch a pull while it is under way.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

/// What the proxy does with the bytes that come back from upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Passes them on until this many bytes have come back in all, then holds every transfer.
    HoldAfter(u64),
    /// Holding: nothing more is passed on.
    Holding,
    /// Passes everything on.
    PassThrough,
}

#[derive(Debug)]
struct State {
    mode: Mode,
    returned: u64,
}

/// Forwards connections to `upstream`; see [`HoldingProxy::hold_after`].
pub struct HoldingProxy {
    address: SocketAddr,
    shared: Arc<(Mutex<State>, Condvar)>,
}

impl HoldingProxy {
    /// A proxy to `upstream` that passes `bytes` bytes back (over all its connections), then
    /// holds every transfer — the connections stay open, nothing more comes back — until
    /// [`pass_through`](Self::pass_through).
    pub fn hold_after(upstream: SocketAddr, bytes: u64) -> HoldingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("cannot listen on 127.0.0.1");
        let address = listener
            .local_addr()
            .expect("a bound listener has an address");
        let shared = Arc::new((
            Mutex::new(State {
                mode: Mode::HoldAfter(bytes),
                returned: 0,
            }),
            Condvar::new(),
        ));
        let accepting = Arc::clone(&shared);
        std::thread::spawn(move || {
            for client in listener.incoming().filter_map(Result::ok) {
                let Ok(server) = TcpStream::connect(upstream) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                forward(client, server, Arc::clone(&accepting));
            }
        });
        HoldingProxy { address, shared }
    }

    /// `127.0.0.1:<port>`.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Waits until the proxy holds the transfers; false when `timeout` passed first.
    pub fn wait_until_holding(&self, timeout: Duration) -> bool {
        let (state, changed) = &*self.shared;
        let state = state.lock().unwrap_or_else(PoisonError::into_inner);
        let (state, _) = changed
            .wait_timeout_while(state, timeout, |state| state.mode != Mode::Holding)
            .unwrap_or_else(PoisonError::into_inner);
        state.mode == Mode::Holding
    }

    /// Passes everything on from now on, held transfers included.
    pub fn pass_through(&self) {
        let (state, changed) = &*self.shared;
        state.lock().unwrap_or_else(PoisonError::into_inner).mode = Mode::PassThrough;
        changed.notify_all();
    }
}

/// Copies both ways between `client` and `server`, on two threads.
fn forward(client: TcpStream, server: TcpStream, shared: Arc<(Mutex<State>, Condvar)>) {
    let (Ok(client_reader), Ok(server_writer)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    std::thread::spawn(move || copy(client_reader, server_writer, None));
    std::thread::spawn(move || copy(server, client, Some(shared)));
}

/// Copies until either side ends; bytes coming back from upstream go through `shared`'s gate.
fn copy(mut from: TcpStream, mut to: TcpStream, gate: Option<Arc<(Mutex<State>, Condvar)>>) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let read = match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        if let Some(gate) = &gate {
            pass(gate, read as u64);
        }
        if to.write_all(&buffer[..read]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}

/// Counts `bytes` coming back, and waits while the proxy holds.
fn pass(gate: &(Mutex<State>, Condvar), bytes: u64) {
    let (state, changed) = gate;
    let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
    state.returned += bytes;
    if let Mode::HoldAfter(limit) = state.mode
        && state.returned >= limit
    {
        state.mode = Mode::Holding;
        changed.notify_all();
    }
    // A held transfer whose client went away ends at its next write, once the proxy lets go.
    let _released = changed
        .wait_while(state, |state| state.mode == Mode::Holding)
        .unwrap_or_else(PoisonError::into_inner);
}
