//! The peer protocol: what nodes ask of each other over the internode transport, and
//! this node's side of it.
//!
//! - `messages.rs`: the requests and the framing of their replies (the wire format).
//! - `service.rs`: the server side, [`PeerService`]: Raft RPCs into the metadata store,
//!   joins, pings, the keyring for a joining node, and shard streams on the local disks.
//! - `caller.rs`: the client side of Raft RPCs ([`TransportCaller`], what the metadata
//!   store sends through).
//! - `remote_disk.rs`: the client side of shard streams ([`RemoteDisk`], a peer's disk as
//!   the erasure code sees it).
//! - `presence.rs`: annotation viewers' presence sent to every peer ([`PresenceFanout`]).
//!
//! Owns the meaning of the bytes; the bytes themselves travel over `crate::transport`
//! (QUIC, authenticated with the cluster secret), which knows nothing of this protocol.
//! May touch the metadata store, the local disks and the keyring, as a peer asks. Who
//! the peers are, and whether they answer, is `crate::cluster`'s business.

mod caller;
pub mod messages;
mod presence;
mod remote_disk;
mod service;

pub use caller::TransportCaller;
pub use presence::PresenceFanout;
pub use remote_disk::RemoteDisk;
pub use service::PeerService;

use crate::config::Config;
use crate::transport::Transport;
use std::sync::Arc;

/// Binds the internode endpoint and serves the peer protocol on it. `secret` None: no
/// cluster yet (every peer is refused). A node that is in no cluster (`member` false) and
/// was given no internode setting (node_listen, node_advertise, peers) does not need an
/// endpoint: if the default port is taken, e.g. by another node on this machine, it runs
/// without (None), and `cluster init` and `cluster join` tell how to give it one.
pub async fn listen(
    cfg: &Config,
    secret: Option<&str>,
    member: bool,
    service: Arc<PeerService>,
) -> anyhow::Result<Option<Transport>> {
    let listen = cfg.node_listen_addr();
    let secret = secret.map(|s| s.as_bytes().to_vec());
    match Transport::bind(listen, secret, service).await {
        Ok(t) => Ok(Some(t)),
        Err(e) if !cfg.internode_configured() && !member => {
            tracing::warn!(
                %listen,
                error = %format!("{e:#}"),
                "the default internode port is taken: running alone without an internode endpoint; \
                 to form or join a cluster, restart with --node-listen ADDR:PORT"
            );
            Ok(None)
        }
        Err(e) => Err(e.context(format!(
            "the internode endpoint cannot listen on {listen}: choose the address with --node-listen ADDR:PORT \
             (env CAIRN_NODE_LISTEN, node_listen in the config file)"
        ))),
    }
}
