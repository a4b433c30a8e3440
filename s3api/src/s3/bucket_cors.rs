//! Put/Get/DeleteBucketCors: a bucket's CORS rules, validated as AWS validates them and
//! kept as `crate::cors::CorsConfig` (the bucket setting `cors`), which the HTTP front
//! reads to answer preflights and decorate answers (`crate::cors`).

use crate::cors::{CorsConfig, CorsRule, METHODS, SETTING};
use crate::errors;
use crate::s3::service::CairnS3;
use crate::s3::unconfigured::Unset;
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

/// AWS's limits.
const MAX_RULES: usize = 100;
const MAX_ID: usize = 255;

fn one_wildcard(what: &str, values: &[String]) -> S3Result<()> {
    match values.iter().find(|v| v.matches('*').count() > 1) {
        Some(v) => Err(s3_error!(InvalidRequest, "{what} \"{v}\" can not have more than one wildcard.")),
        None => Ok(()),
    }
}

fn rule(r: &CORSRule) -> S3Result<CorsRule> {
    if r.id.as_ref().is_some_and(|id| id.chars().count() > MAX_ID) {
        return Err(s3_error!(InvalidArgument, "ID length should not exceed allowed limit of {MAX_ID}"));
    }
    if r.allowed_methods.is_empty() || r.allowed_origins.is_empty() {
        return Err(s3_error!(MalformedXML, "A CORSRule needs at least one AllowedMethod and one AllowedOrigin"));
    }
    if let Some(m) = r.allowed_methods.iter().find(|m| !METHODS.contains(&m.as_str())) {
        return Err(s3_error!(
            InvalidRequest,
            "Found unsupported HTTP method in CORS config. Unsupported method is {m}"
        ));
    }
    let headers = r.allowed_headers.clone().unwrap_or_default();
    one_wildcard("AllowedOrigin", &r.allowed_origins)?;
    one_wildcard("AllowedHeader", &headers)?;
    let max_age_seconds = match r.max_age_seconds {
        None => None,
        Some(n) if n >= 0 => Some(n as u32),
        Some(_) => return Err(s3_error!(InvalidArgument, "MaxAgeSeconds must be zero or more")),
    };
    Ok(CorsRule {
        id: r.id.clone(),
        allowed_origins: r.allowed_origins.clone(),
        allowed_methods: r.allowed_methods.clone(),
        allowed_headers: headers.iter().map(|h| h.to_ascii_lowercase()).collect(),
        expose_headers: r.expose_headers.clone().unwrap_or_default(),
        max_age_seconds,
    })
}

fn show(r: &CorsRule) -> CORSRule {
    CORSRule {
        id: r.id.clone(),
        allowed_origins: r.allowed_origins.clone(),
        allowed_methods: r.allowed_methods.clone(),
        allowed_headers: (!r.allowed_headers.is_empty()).then(|| r.allowed_headers.clone()),
        expose_headers: (!r.expose_headers.is_empty()).then(|| r.expose_headers.clone()),
        max_age_seconds: r.max_age_seconds.map(|n| n as i32),
    }
}

impl CairnS3 {
    fn cors(&self, bucket: &str) -> S3Result<Option<CorsConfig>> {
        let Some(raw) = self.store.meta.bucket_setting(bucket, SETTING).map_err(errors::meta)? else {
            return Ok(None);
        };
        serde_json::from_slice(&raw)
            .map(Some)
            .map_err(|e| s3_error!(InternalError, "bucket {bucket} has an unreadable CORS configuration: {e}"))
    }

    pub(crate) async fn put_bucket_cors_impl(
        &self,
        req: S3Request<PutBucketCorsInput>,
    ) -> S3Result<S3Response<PutBucketCorsOutput>> {
        let input = req.input;
        self.require_bucket(&input.bucket).await?;
        let rules = &input.cors_configuration.cors_rules;
        if rules.is_empty() || rules.len() > MAX_RULES {
            return Err(s3_error!(MalformedXML, "A CORS configuration holds 1 to {MAX_RULES} CORSRules"));
        }
        let config = CorsConfig { rules: rules.iter().map(rule).collect::<S3Result<_>>()? };
        let value = serde_json::to_vec(&config).map_err(|e| s3_error!(InternalError, "{e}"))?;
        cairn_object::meta::put_bucket_setting(&self.store.meta, &input.bucket, SETTING, Some(value))
            .await
            .map_err(errors::object)?;
        Ok(S3Response::new(PutBucketCorsOutput::default()))
    }

    pub(crate) async fn get_bucket_cors_impl(
        &self,
        req: S3Request<GetBucketCorsInput>,
    ) -> S3Result<S3Response<GetBucketCorsOutput>> {
        let bucket = req.input.bucket;
        self.require_bucket(&bucket).await?;
        let Some(config) = self.cors(&bucket)? else { return Err(Unset::Cors.error()) };
        Ok(S3Response::new(GetBucketCorsOutput { cors_rules: Some(config.rules.iter().map(show).collect()) }))
    }

    pub(crate) async fn delete_bucket_cors_impl(
        &self,
        req: S3Request<DeleteBucketCorsInput>,
    ) -> S3Result<S3Response<DeleteBucketCorsOutput>> {
        let bucket = req.input.bucket;
        self.require_bucket(&bucket).await?;
        cairn_object::meta::put_bucket_setting(&self.store.meta, &bucket, SETTING, None)
            .await
            .map_err(errors::object)?;
        Ok(S3Response::with_status(DeleteBucketCorsOutput::default(), http::StatusCode::NO_CONTENT))
    }
}
