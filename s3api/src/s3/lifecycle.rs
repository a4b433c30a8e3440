//! Put/Get/DeleteBucketLifecycleConfiguration: S3's lifecycle XML, validated as AWS
//! validates it and kept as `cairn_object::lifecycle::Lifecycle` (which also decides
//! when each action is due; the node's lifecycle worker takes them), and the headers
//! that announce an expiry: `x-amz-expiration` on PUT, GET, HEAD and
//! CompleteMultipartUpload, `x-amz-abort-date` / `x-amz-abort-rule-id` on
//! CreateMultipartUpload and ListParts.
//!
//! Transitions and NoncurrentVersionTransitions name the cluster's storage classes
//! (`cairn_raft::tiers`); the worker rewrites a due version into its class
//! (`cairn_object::tiers`).

use crate::errors;
use crate::s3::service::CairnS3;
use crate::s3::tagging;
use crate::s3::unconfigured::Unset;
use crate::timefmt::{format_http_date, to_timestamp};
use cairn_object::lifecycle::{
    Expiration, Filter, Lifecycle, NoncurrentExpiration, NoncurrentTransition, Rule, Transition as ToClass, When,
};
use cairn_raft::schema::{MultipartUpload, Nanos, TagSet};
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};
use std::collections::BTreeSet;

/// AWS's limits.
const MAX_RULES: usize = 1000;
const MAX_ID: usize = 255;
const MAX_NEWER_VERSIONS: i32 = 100;
const NANOS_PER_DAY: i128 = 86_400 * 1_000_000_000;

fn positive(days: Option<i32>, what: &str) -> S3Result<u32> {
    match days {
        Some(d) if d > 0 => Ok(d as u32),
        _ => Err(s3_error!(InvalidArgument, "{what} must be a positive integer")),
    }
}

fn size(v: Option<i64>, what: &str) -> S3Result<Option<u64>> {
    match v {
        None => Ok(None),
        Some(n) if n >= 0 => Ok(Some(n as u64)),
        Some(_) => Err(s3_error!(InvalidArgument, "'{what}' must be zero or more")),
    }
}

/// A rule's filter: the `Filter` element (exactly one of Prefix, Tag, the sizes, And;
/// empty for every object) or the older `Prefix` beside it.
fn filter(rule: &LifecycleRule) -> S3Result<Filter> {
    let f = match (&rule.filter, &rule.prefix) {
        (Some(_), Some(_)) => {
            return Err(s3_error!(MalformedXML, "A rule has either a Filter or a Prefix, not both"));
        }
        (None, None) => return Err(s3_error!(MalformedXML, "A rule needs a Filter (or the older Prefix)")),
        (None, Some(p)) => return Ok(Filter { prefix: p.clone(), ..Filter::default() }),
        (Some(f), None) => f,
    };
    let given = [
        f.prefix.is_some(),
        f.tag.is_some(),
        f.object_size_greater_than.is_some(),
        f.object_size_less_than.is_some(),
        f.and.is_some(),
    ];
    if given.iter().filter(|&&g| g).count() > 1 {
        return Err(s3_error!(
            MalformedXML,
            "A Filter holds one of Prefix, Tag, ObjectSizeGreaterThan, ObjectSizeLessThan or And; use And to combine them"
        ));
    }
    let mut out = Filter {
        prefix: f.prefix.clone().unwrap_or_default(),
        tags: match &f.tag {
            Some(t) => tagging::validate(std::slice::from_ref(t), 1)?,
            None => TagSet::new(),
        },
        size_greater_than: size(f.object_size_greater_than, "ObjectSizeGreaterThan")?,
        size_less_than: size(f.object_size_less_than, "ObjectSizeLessThan")?,
    };
    if let Some(and) = &f.and {
        out.prefix = and.prefix.clone().unwrap_or_default();
        out.tags = tagging::validate(and.tags.as_deref().unwrap_or_default(), 50)?;
        out.size_greater_than = size(and.object_size_greater_than, "ObjectSizeGreaterThan")?;
        out.size_less_than = size(and.object_size_less_than, "ObjectSizeLessThan")?;
    }
    if let (Some(gt), Some(lt)) = (out.size_greater_than, out.size_less_than)
        && gt >= lt
    {
        return Err(s3_error!(InvalidArgument, "'ObjectSizeGreaterThan' must be less than 'ObjectSizeLessThan'"));
    }
    Ok(out)
}

fn expiration(e: &LifecycleExpiration, filter: &Filter) -> S3Result<Expiration> {
    let marker = e.expired_object_delete_marker == Some(true);
    let when = match (e.days, &e.date) {
        (Some(_), Some(_)) => return Err(s3_error!(MalformedXML, "Expiration takes Days or Date, not both")),
        (Some(d), None) => Some(When::Days(positive(Some(d), "'Days' for Expiration action")?)),
        (None, Some(date)) => Some(When::Date(midnight(date)?)),
        (None, None) => None,
    };
    if e.expired_object_delete_marker.is_some() && when.is_some() {
        return Err(s3_error!(
            MalformedXML,
            "ExpiredObjectDeleteMarker cannot be specified with Days or Date in a Lifecycle Expiration Policy"
        ));
    }
    if when.is_none() && !marker {
        return Err(s3_error!(MalformedXML, "Expiration needs Days, Date or ExpiredObjectDeleteMarker"));
    }
    if marker && !filter.tags.is_empty() {
        return Err(s3_error!(InvalidRequest, "ExpiredObjectDeleteMarker cannot be specified with Tags"));
    }
    Ok(Expiration { when, expired_object_delete_marker: marker })
}

/// A date at midnight UTC, as a lifecycle action takes it.
fn midnight(date: &Date) -> S3Result<Nanos> {
    let t = time::OffsetDateTime::from(date.clone()).unix_timestamp_nanos();
    if t.rem_euclid(NANOS_PER_DAY) != 0 {
        return Err(s3_error!(InvalidArgument, "'Date' must be at midnight GMT"));
    }
    Ok(t as Nanos)
}

fn newer_versions(v: Option<i32>) -> S3Result<Option<u32>> {
    match v {
        None => Ok(None),
        Some(v) if (1..=MAX_NEWER_VERSIONS).contains(&v) => Ok(Some(v as u32)),
        Some(_) => Err(s3_error!(InvalidArgument, "'NewerNoncurrentVersions' must be from 1 to {MAX_NEWER_VERSIONS}")),
    }
}

fn non_negative(days: Option<i32>, what: &str) -> S3Result<u32> {
    match days {
        Some(d) if d >= 0 => Ok(d as u32),
        _ => Err(s3_error!(InvalidArgument, "{what} must be zero or a positive integer")),
    }
}

/// A transition's target: one of the cluster's classes, and not STANDARD.
fn target_class(class: Option<&str>, classes: &[String]) -> S3Result<String> {
    let Some(class) = class else {
        return Err(s3_error!(MalformedXML, "A transition needs a StorageClass"));
    };
    if class == cairn_raft::tiers::STANDARD {
        return Err(s3_error!(InvalidArgument, "A transition's StorageClass cannot be STANDARD"));
    }
    crate::refusals::known_class(class, classes)?;
    Ok(class.to_string())
}

fn transitions(r: &LifecycleRule, classes: &[String]) -> S3Result<(Vec<ToClass>, Vec<NoncurrentTransition>)> {
    let mut current = Vec::new();
    for t in r.transitions.iter().flatten() {
        let when = match (t.days, &t.date) {
            (Some(_), Some(_)) => return Err(s3_error!(MalformedXML, "Transition takes Days or Date, not both")),
            (Some(d), None) => When::Days(non_negative(Some(d), "'Days' in the Transition action")?),
            (None, Some(date)) => When::Date(midnight(date)?),
            (None, None) => return Err(s3_error!(MalformedXML, "Transition needs Days or Date")),
        };
        let class = target_class(t.storage_class.as_ref().map(|c| c.as_str()), classes)?;
        current.push(ToClass { when, class });
    }
    let days = current.iter().filter(|t| matches!(t.when, When::Days(_))).count();
    if days != 0 && days != current.len() {
        return Err(s3_error!(
            InvalidRequest,
            "Found mixed 'Date' and 'Days' based Transition actions in lifecycle rule"
        ));
    }
    let mut noncurrent = Vec::new();
    for t in r.noncurrent_version_transitions.iter().flatten() {
        noncurrent.push(NoncurrentTransition {
            days: non_negative(t.noncurrent_days, "'NoncurrentDays' in the NoncurrentVersionTransition action")?,
            newer_versions: newer_versions(t.newer_noncurrent_versions)?,
            class: target_class(t.storage_class.as_ref().map(|c| c.as_str()), classes)?,
        });
    }
    for (i, c) in current.iter().map(|t| &t.class).enumerate() {
        if current.iter().skip(i + 1).any(|t| t.class == *c) {
            return Err(s3_error!(
                InvalidArgument,
                "'StorageClass' must be different for 'Transition' actions in same 'Rule'"
            ));
        }
    }
    for (i, c) in noncurrent.iter().map(|t| &t.class).enumerate() {
        if noncurrent.iter().skip(i + 1).any(|t| t.class == *c) {
            return Err(s3_error!(
                InvalidArgument,
                "'StorageClass' must be different for 'NoncurrentVersionTransition' actions in same 'Rule'"
            ));
        }
    }
    Ok((current, noncurrent))
}

fn rule(r: &LifecycleRule, ids: &mut BTreeSet<String>, classes: &[String]) -> S3Result<Rule> {
    let id = match &r.id {
        Some(id) if id.chars().count() > MAX_ID => {
            return Err(s3_error!(InvalidArgument, "ID length should not exceed allowed limit of {MAX_ID}"));
        }
        Some(id) if !id.is_empty() => id.clone(),
        // S3 names a rule sent without an ID.
        _ => hex::encode(rand::random::<[u8; 12]>()),
    };
    if !ids.insert(id.clone()) {
        return Err(s3_error!(InvalidArgument, "Rule ID must be unique. Found same ID for more than one rule"));
    }
    let enabled = match r.status.as_str() {
        ExpirationStatus::ENABLED => true,
        ExpirationStatus::DISABLED => false,
        other => return Err(s3_error!(MalformedXML, "Status is Enabled or Disabled, not {other}")),
    };
    let filter = filter(r)?;
    let expiration = r.expiration.as_ref().map(|e| expiration(e, &filter)).transpose()?;
    let noncurrent = match &r.noncurrent_version_expiration {
        None => None,
        Some(n) => Some(NoncurrentExpiration {
            days: positive(n.noncurrent_days, "'NoncurrentDays' for NoncurrentVersionExpiration action")?,
            newer_versions: newer_versions(n.newer_noncurrent_versions)?,
        }),
    };
    let abort_upload_days = match &r.abort_incomplete_multipart_upload {
        None => None,
        Some(a) => {
            if !filter.tags.is_empty() {
                return Err(s3_error!(InvalidRequest, "AbortIncompleteMultipartUpload cannot be specified with Tags."));
            }
            if filter.size_greater_than.is_some() || filter.size_less_than.is_some() {
                return Err(s3_error!(
                    InvalidRequest,
                    "AbortIncompleteMultipartUpload cannot be specified with Object Size."
                ));
            }
            Some(positive(a.days_after_initiation, "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action")?)
        }
    };
    let (transitions, noncurrent_transitions) = transitions(r, classes)?;
    let expire_days = expiration.as_ref().and_then(|e| match e.when {
        Some(When::Days(d)) => Some(d),
        _ => None,
    });
    for t in &transitions {
        if let (When::Days(t), Some(e)) = (t.when, expire_days)
            && e <= t
        {
            return Err(s3_error!(
                InvalidArgument,
                "'Days' in the Expiration action must be greater than 'Days' in the Transition action"
            ));
        }
    }
    if let Some(n) = &noncurrent
        && noncurrent_transitions.iter().any(|t| n.days <= t.days)
    {
        return Err(s3_error!(
            InvalidArgument,
            "'NoncurrentDays' in the NoncurrentVersionExpiration action must be greater than 'NoncurrentDays' in the NoncurrentVersionTransition action"
        ));
    }
    if expiration.is_none()
        && noncurrent.is_none()
        && abort_upload_days.is_none()
        && transitions.is_empty()
        && noncurrent_transitions.is_empty()
    {
        return Err(s3_error!(InvalidRequest, "At least one action needs to be specified in a rule"));
    }
    Ok(Rule { id, enabled, filter, expiration, noncurrent, abort_upload_days, transitions, noncurrent_transitions })
}

/// Validates S3's lifecycle configuration into Cairn's.
/// Validates S3's lifecycle configuration into Cairn's; `classes` are the cluster's
/// storage classes, which transitions may name.
pub(crate) fn parse(config: &BucketLifecycleConfiguration, classes: &[String]) -> S3Result<Lifecycle> {
    if config.rules.is_empty() {
        return Err(s3_error!(MalformedXML, "A lifecycle configuration needs at least one Rule"));
    }
    if config.rules.len() > MAX_RULES {
        return Err(s3_error!(MalformedXML, "A lifecycle configuration has at most {MAX_RULES} rules"));
    }
    let mut ids = BTreeSet::new();
    Ok(Lifecycle { rules: config.rules.iter().map(|r| rule(r, &mut ids, classes)).collect::<S3Result<_>>()? })
}

fn tag(k: &str, v: &str) -> Tag {
    Tag { key: Some(k.to_string()), value: Some(v.to_string()) }
}

/// Cairn's configuration as S3 shows it.
fn show(lc: &Lifecycle) -> Vec<LifecycleRule> {
    lc.rules
        .iter()
        .map(|r| {
            let f = &r.filter;
            let parts = usize::from(!f.prefix.is_empty())
                + f.tags.len()
                + usize::from(f.size_greater_than.is_some())
                + usize::from(f.size_less_than.is_some());
            let as_i64 = |n: Option<u64>| n.map(|n| n as i64);
            let filter = if parts > 1 {
                LifecycleRuleFilter {
                    and: Some(LifecycleRuleAndOperator {
                        prefix: Some(f.prefix.clone()),
                        tags: Some(f.tags.iter().map(|(k, v)| tag(k, v)).collect()),
                        object_size_greater_than: as_i64(f.size_greater_than),
                        object_size_less_than: as_i64(f.size_less_than),
                    }),
                    ..Default::default()
                }
            } else {
                LifecycleRuleFilter {
                    prefix: (parts == 0 || !f.prefix.is_empty()).then(|| f.prefix.clone()),
                    tag: f.tags.first().map(|(k, v)| tag(k, v)),
                    object_size_greater_than: as_i64(f.size_greater_than),
                    object_size_less_than: as_i64(f.size_less_than),
                    ..Default::default()
                }
            };
            LifecycleRule {
                id: Some(r.id.clone()),
                status: ExpirationStatus::from_static(if r.enabled {
                    ExpirationStatus::ENABLED
                } else {
                    ExpirationStatus::DISABLED
                }),
                filter: Some(filter),
                expiration: r.expiration.as_ref().map(|e| LifecycleExpiration {
                    days: match e.when {
                        Some(When::Days(d)) => Some(d as i32),
                        _ => None,
                    },
                    date: match e.when {
                        Some(When::Date(d)) => Some(to_timestamp(d)),
                        _ => None,
                    },
                    expired_object_delete_marker: e.expired_object_delete_marker.then_some(true),
                }),
                noncurrent_version_expiration: r.noncurrent.as_ref().map(|n| NoncurrentVersionExpiration {
                    noncurrent_days: Some(n.days as i32),
                    newer_noncurrent_versions: n.newer_versions.map(|v| v as i32),
                }),
                abort_incomplete_multipart_upload: r
                    .abort_upload_days
                    .map(|d| AbortIncompleteMultipartUpload { days_after_initiation: Some(d as i32) }),
                prefix: None,
                transitions: (!r.transitions.is_empty()).then(|| {
                    r.transitions
                        .iter()
                        .map(|t| Transition {
                            days: match t.when {
                                When::Days(d) => Some(d as i32),
                                When::Date(_) => None,
                            },
                            date: match t.when {
                                When::Date(d) => Some(to_timestamp(d)),
                                When::Days(_) => None,
                            },
                            storage_class: Some(TransitionStorageClass::from(t.class.clone())),
                        })
                        .collect()
                }),
                noncurrent_version_transitions: (!r.noncurrent_transitions.is_empty()).then(|| {
                    r.noncurrent_transitions
                        .iter()
                        .map(|t| NoncurrentVersionTransition {
                            noncurrent_days: Some(t.days as i32),
                            newer_noncurrent_versions: t.newer_versions.map(|v| v as i32),
                            storage_class: Some(TransitionStorageClass::from(t.class.clone())),
                        })
                        .collect()
                }),
            }
        })
        .collect()
}

/// `expiry-date="<HTTP date>", rule-id="<id, URL-encoded>"`.
fn expiration_value(when: Nanos, rule_id: &str) -> String {
    let id = percent_encoding::utf8_percent_encode(rule_id, percent_encoding::NON_ALPHANUMERIC);
    format!("expiry-date=\"{}\", rule-id=\"{id}\"", format_http_date(&to_timestamp(when)))
}

impl CairnS3 {
    /// `x-amz-expiration` for the current version of `bucket/key` (`version_id`, `size`
    /// bytes, made at `made`), if a rule will expire it. A failure to read the
    /// configuration shows no header rather than failing the request it decorates.
    pub(crate) fn expiration_header(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        size: u64,
        made: Nanos,
    ) -> Option<String> {
        let lc = self.store.lifecycle(bucket).ok().flatten()?;
        let wants_tags = lc.rules.iter().any(|r| !r.filter.tags.is_empty());
        let tags = match wants_tags {
            true => self.store.version_tags(bucket, key, version_id).ok()?,
            false => TagSet::new(),
        };
        let (when, id) = lc.expiry(key, size, made, &tags, self.store.config.lifecycle_day)?;
        Some(expiration_value(when, id))
    }

    /// `x-amz-expiration` for a GET or HEAD of `obj`: only when the request named no
    /// version (it then read the current one), as S3 shows it.
    pub(crate) fn read_expiration(
        &self,
        bucket: &str,
        key: &str,
        asked_version: Option<&str>,
        obj: &cairn_raft::schema::ObjectVersion,
    ) -> Option<String> {
        if asked_version.is_some() {
            return None;
        }
        self.expiration_header(bucket, key, obj.version_id.as_deref(), obj.size, obj.last_modified)
    }

    /// When a rule will abort `upload`, and the rule's id.
    pub(crate) fn abort_date(&self, upload: &MultipartUpload) -> Option<(Timestamp, String)> {
        let lc = self.store.lifecycle(&upload.bucket).ok().flatten()?;
        let (when, id) = lc.abort_date(upload, self.store.config.lifecycle_day)?;
        Some((to_timestamp(when), id.to_string()))
    }

    pub(crate) async fn put_bucket_lifecycle_configuration_impl(
        &self,
        req: S3Request<PutBucketLifecycleConfigurationInput>,
    ) -> S3Result<S3Response<PutBucketLifecycleConfigurationOutput>> {
        let input = req.input;
        self.require_bucket(&input.bucket).await?;
        let Some(config) = &input.lifecycle_configuration else {
            return Err(s3_error!(MalformedXML, "The request body holds no LifecycleConfiguration"));
        };
        let lc = parse(config, &self.store.class_names())?;
        self.store.set_lifecycle(&input.bucket, Some(&lc)).await.map_err(errors::object)?;
        Ok(S3Response::new(PutBucketLifecycleConfigurationOutput::default()))
    }

    pub(crate) async fn get_bucket_lifecycle_configuration_impl(
        &self,
        req: S3Request<GetBucketLifecycleConfigurationInput>,
    ) -> S3Result<S3Response<GetBucketLifecycleConfigurationOutput>> {
        let bucket = req.input.bucket;
        self.require_bucket(&bucket).await?;
        let Some(lc) = self.store.lifecycle(&bucket).map_err(errors::object)? else {
            return Err(Unset::Lifecycle.error());
        };
        Ok(S3Response::new(GetBucketLifecycleConfigurationOutput { rules: Some(show(&lc)), ..Default::default() }))
    }

    pub(crate) async fn delete_bucket_lifecycle_impl(
        &self,
        req: S3Request<DeleteBucketLifecycleInput>,
    ) -> S3Result<S3Response<DeleteBucketLifecycleOutput>> {
        let bucket = req.input.bucket;
        self.require_bucket(&bucket).await?;
        self.store.set_lifecycle(&bucket, None).await.map_err(errors::object)?;
        Ok(S3Response::with_status(DeleteBucketLifecycleOutput::default(), http::StatusCode::NO_CONTENT))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiration_header_quotes_date_and_encoded_id() {
        let v = expiration_value(86_400 * 1_000_000_000, "logs rule/1");
        assert_eq!(v, "expiry-date=\"Fri, 02 Jan 1970 00:00:00 GMT\", rule-id=\"logs%20rule%2F1\"");
    }
}
