//! Join tokens: what `cairn cluster init` prints and `cairn cluster join` takes. A
//! token carries the cluster secret, so it is a credential: whoever holds it can join.
//! Encoding only, touching nothing.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

const PREFIX: &str = "cairn1.";

#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinToken {
    pub secret: String,
    /// Internode addresses of members to join through.
    pub addrs: Vec<String>,
}

impl JoinToken {
    pub fn encode(&self) -> String {
        format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default()))
    }

    pub fn decode(token: &str) -> Result<JoinToken, String> {
        let body = token.trim().strip_prefix(PREFIX).ok_or("not a Cairn join token (it starts with cairn1.)")?;
        let json = URL_SAFE_NO_PAD.decode(body).map_err(|_| "the join token is damaged (bad base64)")?;
        let t: JoinToken = serde_json::from_slice(&json).map_err(|_| "the join token is damaged (bad content)")?;
        if t.secret.len() < 16 {
            return Err("the join token carries no usable secret".into());
        }
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejects() {
        let t = JoinToken { secret: "0123456789abcdef0123".into(), addrs: vec!["127.0.0.1:9001".into()] };
        assert_eq!(JoinToken::decode(&t.encode()).unwrap(), t);
        assert!(JoinToken::decode("cairn1.!!!").is_err());
        assert!(JoinToken::decode("hello").is_err());
        let short = JoinToken { secret: "x".into(), addrs: vec![] };
        assert!(JoinToken::decode(&short.encode()).is_err());
    }
}
