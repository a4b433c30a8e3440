//! `/cairn/admin/v1/kms/keys`: the built-in KMS key store behind SSE-KMS.
//!
//! | method | path | body | answer |
//! |---|---|---|---|
//! | GET | `kms/keys` | | [`KmsKeyList`] |
//! | POST | `kms/keys` | [`CreateKmsKey`] | [`KmsKeyInfo`] (409 `KmsKeyExists`) |
//! | GET | `kms/keys/<id>` | | [`KmsKeyInfo`] (404 `NoSuchKmsKey`) |
//! | POST | `kms/keys/<id>/rotate` | | [`KmsKeyInfo`]: a new current version |
//! | POST | `kms/keys/<id>/disable`, `.../enable` | | [`KmsKeyInfo`] |
//!
//! A key id may hold `/` (`aws/s3`, the default key): its segments follow `keys/` as they are.

use serde::{Deserialize, Serialize};

/// `POST kms/keys`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKmsKey {
    /// 1 to 128 letters, digits and `-` `_` `/` `.`.
    pub id: String,
    #[serde(default)]
    pub description: String,
}

/// One key: never its material.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct KmsKeyInfo {
    pub id: String,
    /// How S3 answers name it (`x-amz-server-side-encryption-aws-kms-key-id`).
    pub arn: String,
    pub description: String,
    /// RFC 3339.
    pub created: String,
    pub enabled: bool,
    /// The version new data keys are sealed with.
    pub current_version: u32,
    pub versions: Vec<KmsKeyVersionInfo>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KmsKeyVersionInfo {
    pub version: u32,
    /// RFC 3339.
    pub created: String,
}

/// `GET kms/keys`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KmsKeyList {
    pub keys: Vec<KmsKeyInfo>,
}
