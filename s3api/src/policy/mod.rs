//! The AWS bucket-policy language: parsing, validation and evaluation (pure logic, no I/O).
//!
//! [`Policy::parse`] validates a PutBucketPolicy document for one bucket; [`Policy::evaluate`]
//! decides a request described by a [`RequestContext`]. Evaluation follows AWS: an explicit Deny
//! wins, then an explicit Allow, otherwise [`Decision::NoMatch`] (implicit deny, the caller may still
//! allow by ownership / ACL).
//!
//! What Cairn accepts and how it matches:
//! * `Principal`: `"*"`, `{"AWS": "*"}` (everyone, anonymous included), `{"AWS": [ids]}` and
//!   `{"CanonicalUser": [ids]}` — see [`Principal`] for the accepted id forms. `Service` and
//!   `Federated` principals are accepted but never match. `NotPrincipal` is rejected.
//! * `Action` / `NotAction`: known S3 actions ([`S3_ACTIONS`]) and Cairn's asset actions
//!   ([`CAIRN_ACTIONS`]), case-insensitive, `*` / `?`.
//! * `Resource` / `NotResource`: `arn:aws:s3:::<bucket>` or `arn:aws:s3:::<bucket>/<key pattern>`
//!   for the policy's own bucket (the bucket part may be a wildcard that matches it); matched
//!   case-sensitively with `*` / `?`.
//! * Policy variables (`${aws:username}`, `${aws:userid}`, any request condition key, `${*}` style
//!   escapes, `${key, 'default'}`) are substituted in `Resource` / `NotResource` and in String and
//!   ARN condition values when `Version` is `2012-10-17`; with `2008-10-17` or no Version they are
//!   literal text. A variable that cannot be resolved makes its statement not apply.

mod action;
mod condition;
mod document;
mod eval;
mod pattern;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;

pub use action::{CAIRN_ACTIONS, S3_ACTIONS, is_known_action};

/// Largest accepted policy document, in bytes (AWS: 20 KB).
pub const MAX_POLICY_SIZE: usize = 20 * 1024;

/// Why a policy document was rejected. Returned to clients as `MalformedPolicy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError(pub String);

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PolicyError {}

/// A parsed, validated bucket policy.
#[derive(Clone, Debug)]
pub struct Policy {
    text: String,
    id: Option<String>,
    version: Option<String>,
    statements: Vec<document::Statement>,
}

impl Policy {
    /// Parses and validates a bucket policy for `bucket`.
    pub fn parse(json: &str, bucket: &str) -> Result<Policy, PolicyError> {
        document::parse(json, bucket)
    }

    /// The original JSON text, exactly as given to [`Policy::parse`].
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The policy's `Id`, if any.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The policy's `Version`, if given.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// Number of statements.
    pub fn statement_count(&self) -> usize {
        self.statements.len()
    }

    /// True if some Allow statement grants access to everyone (`Principal` `*`) without a condition
    /// that pins the caller down: an `IpAddress` on `aws:SourceIp` whose networks are all narrower
    /// than /0, or a positive String/ARN equality or like-match, without wildcards (or IfExists /
    /// ForAllValues), on one of `aws:SourceArn`, `aws:SourceVpc`, `aws:SourceVpce`,
    /// `aws:SourceOwner`, `aws:SourceAccount`, `aws:PrincipalAccount`, `aws:PrincipalArn`,
    /// `aws:PrincipalOrgID`, `aws:userid` (`X:*` allowed), `aws:username`,
    /// `s3:x-amz-server-side-encryption-aws-kms-key-id`. Used for GetBucketPolicyStatus.
    pub fn is_public(&self) -> bool {
        eval::is_public(&self.statements)
    }

    /// Decides `req` against this policy.
    pub fn evaluate(&self, req: &RequestContext<'_>) -> Decision {
        eval::evaluate(&self.statements, req)
    }

    /// [`Policy::evaluate`], and the statement that decided (its Sid, or `#<index>`
    /// from 0), for audit records.
    pub fn evaluate_why(&self, req: &RequestContext<'_>) -> (Decision, Option<String>) {
        let (d, i) = eval::evaluate_why(&self.statements, req);
        (d, i.map(|i| self.statements[i].sid.clone().unwrap_or_else(|| format!("#{i}"))))
    }
}

/// The result of evaluating a policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// An Allow statement matched and no Deny did.
    Allow,
    /// A Deny statement matched (wins over everything).
    Deny,
    /// Nothing matched (implicit deny; the caller may still allow by ownership).
    NoMatch,
}

/// The authenticated caller.
///
/// A `{"AWS": ...}` principal entry matches when it is `*`, or equals `access_key_id`, or equals
/// `canonical_id`, or is `arn:aws:iam::<any account>:user/<path/>name` with the last path
/// component equal to `name`, or is `arn:aws:iam::<canonical_id>:root`. A `{"CanonicalUser": ...}`
/// entry matches when it equals `canonical_id`. Comparisons are case-sensitive.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Principal {
    /// Access key id.
    pub access_key_id: String,
    /// Canonical owner id (hex).
    pub canonical_id: String,
    /// Display name / user name.
    pub name: String,
}

/// What a request wants to do, as seen by the policy.
#[derive(Clone, Copy, Debug)]
pub struct RequestContext<'a> {
    /// The S3 action name used for authorization, e.g. `s3:GetObject` (compared case-insensitively).
    pub action: &'a str,
    /// `arn:aws:s3:::bucket` or `arn:aws:s3:::bucket/key`.
    pub resource: &'a str,
    /// `None` for anonymous (unsigned) requests.
    pub principal: Option<&'a Principal>,
    /// Condition keys and their values, e.g. `aws:SourceIp` -> `["10.1.2.3"]`. Keys may be stored
    /// in any case: lookups try the exact key first, then compare case-insensitively. A key that
    /// is absent (or maps to an empty list) is "missing".
    ///
    /// Policy variables are resolved from this map too; `${aws:username}` and `${aws:userid}`
    /// additionally fall back to `principal.name` and `principal.canonical_id`. (Condition
    /// operators themselves use only this map.)
    pub conditions: &'a BTreeMap<String, Vec<String>>,
}

impl<'a> RequestContext<'a> {
    /// The request's values for a condition key (case-insensitive lookup).
    pub fn condition_values(&self, key: &str) -> Option<&'a [String]> {
        let conditions: &'a BTreeMap<String, Vec<String>> = self.conditions;
        if let Some(v) = conditions.get(key) {
            return Some(v.as_slice());
        }
        conditions.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.as_slice())
    }
}
