//! Presence across nodes: a viewer's playhead and pointer, published on one node's
//! annotation WebSocket, sent to every other node of the layout as a `Presence`
//! request and handed there to the live hub (`cairn_s3api::ext::LiveHub`), which gives
//! it to that node's viewers of the video. Fire and forget: never stored, never
//! retried (the next move of the pointer replaces it). Touches the transport only.

use super::messages::PeerRequest;
use crate::transport::Transport;
use cairn_raft::MetaStore;
use cairn_raft::annotations::VideoRef;
use cairn_s3api::ext::PresenceRelay;
use std::sync::Arc;
use std::time::Duration;

/// A presence message that takes longer than this to reach a peer is dropped.
const SEND_TIMEOUT: Duration = Duration::from_secs(2);

pub struct PresenceFanout {
    pub transport: Transport,
    pub meta: MetaStore,
}

impl PresenceRelay for PresenceFanout {
    fn send(&self, video: &VideoRef, message: Arc<str>) {
        let me = self.meta.node_id();
        let Ok(layout) = self.meta.layout() else { return };
        let req =
            PeerRequest::Presence { asset: video.asset.clone(), version: video.version, message: message.to_string() };
        let Ok(frame) = bincode::serialize(&req) else { return };
        let frame: Arc<[u8]> = frame.into();
        for node in layout.nodes.iter().filter(|n| n.id != me) {
            let (transport, addr, frame) = (self.transport.clone(), node.addr.clone(), frame.clone());
            tokio::spawn(async move {
                let send = async {
                    let mut s = transport.open(&addr).await.ok()?;
                    s.send_frame(&frame).await.ok()?;
                    s.finish().await.ok()?;
                    s.recv_frame().await.ok()
                };
                let _ = tokio::time::timeout(SEND_TIMEOUT, send).await;
            });
        }
    }
}
