//! The server side of the peer protocol: what a node does for its peers. May touch the
//! metadata store (Raft RPCs, adding a joining node), this node's local disks (shard
//! streams), the keyring (read, for a joining node) and the live annotation hub
//! (presence from a peer's viewers); only authenticated peers get here.

use super::messages::{self, APPEND, COMMIT, MAX_READ, PeerRequest, PeerStatus};
use crate::transport::{Handler, PeerStream};
use cairn_erasure::{HEADER_LEN, LocalDisk, ShardDisk, ShardFileWriter};
use cairn_raft::MetaStore;
use cairn_raft::annotations::VideoRef;
use cairn_s3api::access::Keyring;
use cairn_s3api::ext::LiveHub;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

pub struct PeerService {
    /// Set once the metadata store is open; requests before that are refused.
    meta: Arc<OnceLock<MetaStore>>,
    local: Vec<Arc<LocalDisk>>,
    keyring: Keyring,
    /// Set once the S3 front is up: where presence from peers goes.
    live: OnceLock<Arc<LiveHub>>,
}

impl PeerService {
    pub fn new(meta: Arc<OnceLock<MetaStore>>, local: Vec<Arc<LocalDisk>>, keyring: Keyring) -> Self {
        PeerService { meta, local, keyring, live: OnceLock::new() }
    }

    /// The front's live annotation hub, for presence from peers.
    pub fn set_live(&self, live: Arc<LiveHub>) {
        let _ = self.live.set(live);
    }

    fn disk(&self, i: u16) -> Result<Arc<LocalDisk>, String> {
        self.local.get(usize::from(i)).cloned().ok_or_else(|| format!("no disk {i} on this node"))
    }

    async fn handle(&self, peer: SocketAddr, mut stream: PeerStream) -> Result<(), String> {
        let first = stream.recv_frame().await.map_err(|e| e.to_string())?.ok_or("empty stream")?;
        let req: PeerRequest = bincode::deserialize(&first).map_err(|e| format!("bad request: {e}"))?;
        let reply = match req {
            PeerRequest::ShardWrite { disk, id, shard } => return self.shard_write(stream, disk, id, shard).await,
            PeerRequest::Raft(rpc) => {
                let meta = self.meta.get().ok_or("metadata store not open yet")?;
                let reply = meta.handle_rpc(rpc).await;
                bincode::serialize(&reply).map_err(|e| e.to_string())?
            }
            PeerRequest::Join { id, addr } => {
                let meta = self.meta.get().ok_or("metadata store not open yet")?;
                tracing::info!(%peer, node = id, %addr, "node asks to join");
                match meta.add_node(id, &addr).await {
                    Ok(()) => messages::ok(b""),
                    Err(e) => messages::err(&e.to_string()),
                }
            }
            PeerRequest::Keyring => {
                tracing::info!(%peer, "a joining node takes the cluster keyring");
                messages::ok(&self.keyring.bytes())
            }
            PeerRequest::Presence { asset, version, message } => {
                if let Some(live) = self.live.get() {
                    live.deliver_presence(&VideoRef { asset, version }, message.into());
                }
                messages::ok(b"")
            }
            PeerRequest::Ping => {
                let node_id = self.meta.get().map_or(0, |m| m.node_id());
                let online = self.local.iter().filter(|d| d.is_online()).count() as u16;
                let status = PeerStatus { node_id, disks_online: online, disks_total: self.local.len() as u16 };
                bincode::serialize(&status).map_err(|e| e.to_string())?
            }
            PeerRequest::ShardRead { disk, id, shard, offset, len } => {
                if len > MAX_READ {
                    messages::err("read too large")
                } else {
                    let d = self.disk(disk)?;
                    blocking(move || {
                        let mut buf = vec![0u8; 1 + len as usize];
                        buf[0] = messages::OK;
                        match d.open(id, usize::from(shard)).and_then(|f| f.read_exact_at(&mut buf[1..], offset)) {
                            Ok(()) => buf,
                            Err(e) => messages::err(&e.to_string()),
                        }
                    })
                    .await?
                }
            }
            PeerRequest::ShardRemove { disk, id, shard } => {
                let d = self.disk(disk)?;
                blocking(move || match d.remove(id, usize::from(shard)) {
                    Ok(()) => messages::ok(b""),
                    Err(e) => messages::err(&e.to_string()),
                })
                .await?
            }
        };
        stream.send_frame(&reply).await.map_err(|e| e.to_string())?;
        stream.finish().await.map_err(|e| e.to_string())
    }

    /// Receives a shard block by block into a temp file; commits it on the commit frame.
    async fn shard_write(&self, mut stream: PeerStream, disk: u16, id: u128, shard: u16) -> Result<(), String> {
        let d = self.disk(disk)?;
        let created = blocking(move || d.create(id, usize::from(shard))).await?;
        let mut w: Box<dyn ShardFileWriter> = match created {
            Ok(w) => w,
            Err(e) => {
                let _ = stream.send_frame(&messages::io_err(&e)).await;
                return Err(format!("creating shard: {e}"));
            }
        };
        loop {
            let frame = match stream.recv_frame().await {
                Ok(Some(f)) => f,
                // Ended or broken without a commit: the writer went away; drop the shard.
                Ok(None) | Err(_) => {
                    blocking(move || w.abort()).await?;
                    return Ok(());
                }
            };
            match frame.first() {
                Some(&APPEND) if frame.len() >= 5 => {
                    let res = blocking(move || {
                        let (block, crc) = frame[1..].split_at(frame.len() - 5);
                        let crc: [u8; 4] = crc.try_into().unwrap_or_default();
                        let r = w.append(block, crc);
                        (w, r)
                    })
                    .await?;
                    w = res.0;
                    if let Err(e) = res.1 {
                        blocking(move || w.abort()).await?;
                        let _ = stream.send_frame(&messages::io_err(&e)).await;
                        return Err(format!("appending to shard: {e}"));
                    }
                }
                Some(&COMMIT) if frame.len() == 1 + HEADER_LEN => {
                    let mut header = [0u8; HEADER_LEN];
                    header.copy_from_slice(&frame[1..]);
                    // A shard bound for a segment is handed to the committer from here;
                    // anything else commits on a blocking thread.
                    let res = match w.commit_deferred(&header) {
                        Some(handed) => {
                            let res = cairn_erasure::deferred_outcome(handed).await;
                            drop(w);
                            res
                        }
                        None => blocking(move || w.commit(&header)).await?,
                    };
                    let reply = match res {
                        Ok(()) => messages::ok(b""),
                        Err(e) => messages::io_err(&e),
                    };
                    stream.send_frame(&reply).await.map_err(|e| e.to_string())?;
                    return stream.finish().await.map_err(|e| e.to_string());
                }
                _ => {
                    blocking(move || w.abort()).await?;
                    let _ = stream.send_frame(&messages::err("malformed shard frame")).await;
                    return Err("malformed shard frame".into());
                }
            }
        }
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
    tokio::task::spawn_blocking(f).await.map_err(|e| format!("blocking task failed: {e}"))
}

#[async_trait::async_trait]
impl Handler for PeerService {
    async fn serve(&self, peer: SocketAddr, stream: PeerStream) {
        if let Err(e) = self.handle(peer, stream).await {
            tracing::debug!(%peer, error = %e, "peer request failed");
        }
    }
}
