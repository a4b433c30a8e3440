//! `/cairn/v1/`: the tenant API (tenants, quotas, assets, annotations), served through
//! the object layer like S3. Nothing is served yet: every path answers a JSON 404.

use s3s::{Body, S3Response};

pub(super) fn call(_method: &http::Method, _path: &[&str]) -> S3Response<Body> {
    super::json_error(
        http::StatusCode::NOT_FOUND,
        "NoSuchEndpoint",
        "No /cairn/v1 endpoint is served yet (tenants, quotas, assets and annotations are to come)",
    )
}
