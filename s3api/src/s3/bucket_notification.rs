//! Put/GetBucketNotificationConfiguration: a bucket's event notifications, as queue
//! configurations whose ARN names a webhook target configured on the nodes
//! (`notify_target = "NAME=URL"`; the ARN's last field is NAME), with S3's event types
//! and prefix/suffix key filters. Kept as `cairn_raft::notify::NotifyConfig` (the bucket
//! setting `notification`); apply queues the matching events and the leader's
//! deliverer sends them (`node/src/notify/`). Topic, Lambda and EventBridge
//! destinations answer 501.

use crate::errors;
use crate::s3::service::CairnS3;
use cairn_raft::notify::{NotifyConfig, NotifyRule, SETTING};
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};
use std::collections::BTreeSet;

/// The event types a rule may name.
const EVENTS: [&str; 12] = [
    "s3:ObjectCreated:*",
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload",
    "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated",
    "s3:LifecycleExpiration:*",
    "s3:LifecycleExpiration:Delete",
    "s3:LifecycleExpiration:DeleteMarkerCreated",
    "s3:LifecycleTransition",
];

/// Queue configurations a bucket may have.
const MAX_RULES: usize = 100;

/// The ARN a target is shown by.
pub(crate) fn target_arn(region: &str, name: &str) -> String {
    format!("arn:aws:sqs:{region}:000000000000:{name}")
}

fn destination_error(arn: &str) -> s3s::S3Error {
    s3_error!(
        InvalidArgument,
        "Unable to validate the following destination configurations: {arn} is not a notification target of this cluster (notify_target)"
    )
}

impl CairnS3 {
    fn rule(&self, q: &QueueConfiguration, ids: &mut BTreeSet<String>) -> S3Result<NotifyRule> {
        let arn = q.queue_arn.as_str();
        let mut parts = arn.split(':');
        let (Some("arn"), _, Some("sqs")) = (parts.next(), parts.next(), parts.next()) else {
            return Err(destination_error(arn));
        };
        let target = arn.rsplit(':').next().unwrap_or_default().to_string();
        if !self.notify_targets.contains(&target) {
            return Err(destination_error(arn));
        }
        if q.events.is_empty() {
            return Err(s3_error!(MalformedXML, "A QueueConfiguration needs at least one Event"));
        }
        let mut events = Vec::new();
        for e in &q.events {
            let e: &str = e.as_ref();
            if !EVENTS.contains(&e) {
                return Err(s3_error!(InvalidArgument, "The event {e} is not supported for notifications"));
            }
            events.push(e.to_string());
        }
        let (mut prefix, mut suffix) = (None, None);
        let rules = q.filter.as_ref().and_then(|f| f.key.as_ref()).and_then(|k| k.filter_rules.as_ref());
        for r in rules.into_iter().flatten() {
            let value = r.value.clone().unwrap_or_default();
            let slot = match r.name.as_ref().map(|n| n.as_str().to_ascii_lowercase()).as_deref() {
                Some(FilterRuleName::PREFIX) => &mut prefix,
                Some(FilterRuleName::SUFFIX) => &mut suffix,
                _ => return Err(s3_error!(InvalidArgument, "A filter rule's name is prefix or suffix")),
            };
            if slot.replace(value).is_some() {
                return Err(s3_error!(
                    InvalidArgument,
                    "Cannot specify more than one prefix or suffix rule in a filter."
                ));
            }
        }
        let id = q.id.clone().filter(|i| !i.is_empty()).unwrap_or_else(|| hex::encode(rand::random::<[u8; 12]>()));
        if !ids.insert(id.clone()) {
            return Err(s3_error!(InvalidArgument, "Notification configuration ids must be unique: {id}"));
        }
        Ok(NotifyRule { id, target, events, prefix: prefix.unwrap_or_default(), suffix: suffix.unwrap_or_default() })
    }

    pub(crate) async fn put_bucket_notification_configuration_impl(
        &self,
        req: S3Request<PutBucketNotificationConfigurationInput>,
    ) -> S3Result<S3Response<PutBucketNotificationConfigurationOutput>> {
        let input = req.input;
        self.require_bucket(&input.bucket).await?;
        let n = &input.notification_configuration;
        let other = n.topic_configurations.as_ref().is_some_and(|t| !t.is_empty())
            || n.lambda_function_configurations.as_ref().is_some_and(|l| !l.is_empty())
            || n.event_bridge_configuration.is_some();
        if other {
            return Err(s3_error!(
                NotImplemented,
                "Only queue configurations (webhook targets configured on the nodes) are served; topic, Lambda and EventBridge destinations are not"
            ));
        }
        if n.queue_configurations.as_ref().is_some_and(|q| q.len() > MAX_RULES) {
            return Err(s3_error!(InvalidArgument, "A bucket has at most {MAX_RULES} notification configurations"));
        }
        let mut ids = BTreeSet::new();
        let rules =
            n.queue_configurations.iter().flatten().map(|q| self.rule(q, &mut ids)).collect::<S3Result<Vec<_>>>()?;
        let value = (!rules.is_empty()).then(|| bincode::serialize(&NotifyConfig { rules }).expect("rules serialize"));
        cairn_object::meta::put_bucket_setting(&self.store.meta, &input.bucket, SETTING, value)
            .await
            .map_err(errors::object)?;
        Ok(S3Response::new(PutBucketNotificationConfigurationOutput::default()))
    }

    pub(crate) async fn get_bucket_notification_configuration_impl(
        &self,
        req: S3Request<GetBucketNotificationConfigurationInput>,
    ) -> S3Result<S3Response<GetBucketNotificationConfigurationOutput>> {
        let bucket = req.input.bucket;
        self.require_bucket(&bucket).await?;
        let raw = self.store.meta.bucket_setting(&bucket, SETTING).map_err(errors::meta)?;
        let config: NotifyConfig = match raw {
            Some(r) => bincode::deserialize(&r).map_err(|e| s3_error!(InternalError, "notification rules: {e}"))?,
            None => NotifyConfig::default(),
        };
        let region = &self.store.config.region;
        let queues: Vec<QueueConfiguration> = config
            .rules
            .iter()
            .map(|r| {
                let mut filter_rules = Vec::new();
                for (name, value) in [(FilterRuleName::PREFIX, &r.prefix), (FilterRuleName::SUFFIX, &r.suffix)] {
                    if !value.is_empty() {
                        filter_rules.push(FilterRule {
                            name: Some(FilterRuleName::from_static(name)),
                            value: Some(value.clone()),
                        });
                    }
                }
                QueueConfiguration {
                    id: Some(r.id.clone()),
                    queue_arn: target_arn(region, &r.target),
                    events: r.events.iter().map(|e| Event::from(e.clone())).collect(),
                    filter: (!filter_rules.is_empty()).then_some(NotificationConfigurationFilter {
                        key: Some(S3KeyFilter { filter_rules: Some(filter_rules) }),
                    }),
                }
            })
            .collect();
        Ok(S3Response::new(GetBucketNotificationConfigurationOutput {
            queue_configurations: (!queues.is_empty()).then_some(queues),
            ..Default::default()
        }))
    }
}
