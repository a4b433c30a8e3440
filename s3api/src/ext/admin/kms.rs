//! The KMS key store behind `/cairn/admin/v1/kms/keys` (the table of endpoints is in
//! `cairn_api::kms`): create, list, describe, rotate, disable and enable keys. Key
//! material never leaves the object layer; answers describe keys and their versions.

use super::keys::rfc3339;
use super::{Admin, AdminError};
use crate::ext::{MAX_BODY, answer};
use crate::s3::sse::kms_arn;
use crate::timefmt::now;
use cairn_api::kms::{CreateKmsKey, KmsKeyInfo, KmsKeyList, KmsKeyVersionInfo};
use cairn_object::ObjectError;
use cairn_object::sse::SseError;
use cairn_raft::kms::KmsKey;
use s3s::{Body, S3Response};

impl Admin {
    /// `path`: the segments after `kms/keys`.
    pub(super) async fn kms_call(&self, method: &http::Method, path: &[&str], mut body: Body) -> S3Response<Body> {
        use http::Method;
        let decoded: Vec<String> =
            path.iter().map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()).collect();
        match (method, decoded.as_slice()) {
            (&Method::GET, []) => answer(self.kms_list().await),
            (&Method::POST, []) => answer(match body.store_all_limited(MAX_BODY).await {
                Ok(bytes) => self.kms_create(&bytes).await,
                Err(e) => Err(AdminError::new(400, "InvalidRequest", e.to_string())),
            }),
            (&Method::POST, [id @ .., action])
                if !id.is_empty() && ["rotate", "enable", "disable"].contains(&action.as_str()) =>
            {
                answer(self.kms_act(&id.join("/"), action).await)
            }
            (&Method::GET, id) => answer(self.kms_info(&id.join("/")).await),
            _ => answer::<()>(Err(AdminError::new(
                405,
                "MethodNotAllowed",
                "kms/keys answers GET and POST; kms/keys/<id> answers GET; kms/keys/<id>/rotate, /enable and /disable answer POST",
            ))),
        }
    }

    fn describe_kms(&self, k: &KmsKey) -> KmsKeyInfo {
        KmsKeyInfo {
            id: k.id.clone(),
            arn: kms_arn(&self.store.config.region, &k.id),
            description: k.description.clone(),
            created: rfc3339(k.created),
            enabled: k.enabled,
            current_version: k.current(),
            versions: k
                .versions
                .iter()
                .enumerate()
                .map(|(i, v)| KmsKeyVersionInfo { version: i as u32 + 1, created: rfc3339(v.created) })
                .collect(),
        }
    }

    async fn kms_list(&self) -> Result<KmsKeyList, AdminError> {
        self.store.meta.read_barrier().await.map_err(unavailable)?;
        let keys = self.store.meta.kms_keys().map_err(unavailable)?;
        Ok(KmsKeyList { keys: keys.iter().map(|k| self.describe_kms(k)).collect() })
    }

    async fn kms_info(&self, id: &str) -> Result<KmsKeyInfo, AdminError> {
        self.store.meta.read_barrier().await.map_err(unavailable)?;
        match self.store.meta.kms_key(id).map_err(unavailable)? {
            Some(k) => Ok(self.describe_kms(&k)),
            None => Err(no_such_key(id)),
        }
    }

    async fn kms_create(&self, body: &[u8]) -> Result<KmsKeyInfo, AdminError> {
        let req: CreateKmsKey = serde_json::from_slice(body).map_err(|e| {
            AdminError::new(400, "InvalidRequest", format!("expected {{\"id\", \"description\"}}: {e}"))
        })?;
        if req.description.chars().count() > 256 || req.description.chars().any(char::is_control) {
            return Err(AdminError::new(
                400,
                "InvalidRequest",
                "a description has at most 256 characters and no control characters",
            )
            .at("description"));
        }
        let key = self.store.kms_create(&req.id, req.description, now()).await.map_err(|e| refused(e, &req.id))?;
        tracing::info!(kms_key = %key.id, "KMS key created");
        Ok(self.describe_kms(&key))
    }

    async fn kms_act(&self, id: &str, action: &str) -> Result<KmsKeyInfo, AdminError> {
        let done = match action {
            "rotate" => self.store.kms_rotate(id, now()).await,
            "enable" => self.store.kms_set_enabled(id, true).await,
            _ => self.store.kms_set_enabled(id, false).await,
        };
        let version = done.map_err(|e| refused(e, id))?;
        tracing::info!(kms_key = %id, action, version, "KMS key changed");
        self.kms_info(id).await
    }
}

fn unavailable(e: cairn_raft::MetaError) -> AdminError {
    AdminError::new(503, "ServiceUnavailable", e.to_string())
}

fn no_such_key(id: &str) -> AdminError {
    AdminError::new(404, "NoSuchKmsKey", format!("there is no KMS key {id}"))
}

fn refused(e: ObjectError, id: &str) -> AdminError {
    match e {
        ObjectError::Meta(e) => unavailable(e),
        ObjectError::KmsKeyExists(_) => AdminError::new(409, "KmsKeyExists", format!("KMS key {id} exists")),
        ObjectError::KmsBadKeyId(_) => AdminError::new(
            400,
            "InvalidKeyId",
            format!("{id:?} is not a key id: 1 to 128 letters, digits and - _ / ."),
        )
        .at("id"),
        ObjectError::Sse(SseError::KmsNotFound(_)) => no_such_key(id),
        ObjectError::Sse(SseError::NoMasterKey) => AdminError::new(
            501,
            "NoMasterKey",
            "this node has no master key (master_key_file or CAIRN_MASTER_KEY): KMS keys are sealed by it",
        ),
        other => AdminError::new(500, "InternalError", other.to_string()),
    }
}
