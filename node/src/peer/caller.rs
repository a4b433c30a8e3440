//! Raft RPCs over the transport: the [`PeerCaller`] the metadata store sends through.
//! Touches nothing but the transport.

use super::messages::PeerRequest;
use crate::transport::Transport;
use cairn_raft::rpc::{CallError, CallFuture, PeerCaller, RaftReply, RaftRpc};
use std::time::Duration;

/// Heartbeats and votes must fail fast so that elections are not held up by a dead peer.
const QUICK_RPC_TIMEOUT: Duration = Duration::from_secs(5);

pub struct TransportCaller {
    transport: Transport,
}

impl TransportCaller {
    pub fn new(transport: Transport) -> Self {
        TransportCaller { transport }
    }
}

fn failed(maybe_delivered: bool, message: String) -> CallError {
    CallError { maybe_delivered, message }
}

impl PeerCaller for TransportCaller {
    fn call(&self, addr: String, rpc: RaftRpc) -> CallFuture {
        let transport = self.transport.clone();
        Box::pin(async move {
            let quick = matches!(rpc, RaftRpc::Append(_) | RaftRpc::Vote(_) | RaftRpc::ReadIndex);
            let msg = bincode::serialize(&PeerRequest::Raft(rpc)).map_err(|e| failed(false, e.to_string()))?;
            let exchange = async {
                // Until the request is written, nothing can have reached the peer.
                let mut s = transport.open(&addr).await.map_err(|e| failed(false, e.to_string()))?;
                s.send_frame(&msg).await.map_err(|e| failed(true, e.to_string()))?;
                s.finish().await.map_err(|e| failed(true, e.to_string()))?;
                match s.recv_frame().await {
                    Ok(Some(reply)) => {
                        bincode::deserialize::<RaftReply>(&reply).map_err(|e| failed(true, e.to_string()))
                    }
                    Ok(None) => Err(failed(true, format!("{addr} closed the stream without a reply"))),
                    Err(e) => Err(failed(true, e.to_string())),
                }
            };
            if quick {
                tokio::time::timeout(QUICK_RPC_TIMEOUT, exchange)
                    .await
                    .map_err(|_| failed(true, format!("{addr} did not answer in time")))?
            } else {
                exchange.await
            }
        })
    }
}
