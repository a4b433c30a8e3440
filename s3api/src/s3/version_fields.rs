//! What a new version records from the request's headers (PutObject, CopyObject
//! with REPLACE, CreateMultipartUpload).

use s3s::dto::*;
use std::collections::BTreeMap;

/// `aws-chunked` describes how the request body was framed, not the object:
/// S3 drops it from the stored Content-Encoding and keeps any real coding.
pub(crate) fn stored_content_encoding(ce: Option<String>) -> Option<String> {
    let ce = ce?;
    let kept: Vec<&str> =
        ce.split(',').map(str::trim).filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("aws-chunked")).collect();
    (!kept.is_empty()).then(|| kept.join(","))
}

pub(crate) fn content_type_string(ct: Option<&ContentType>) -> Option<String> {
    ct.map(|m| m.to_string())
}

pub(crate) fn user_metadata(m: Option<Metadata>) -> BTreeMap<String, String> {
    m.unwrap_or_default().into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect()
}

#[cfg(test)]
mod tests {
    use super::stored_content_encoding;

    #[test]
    fn aws_chunked_is_not_stored() {
        let s = |v: &str| stored_content_encoding(Some(v.to_string()));
        assert_eq!(s("aws-chunked"), None);
        assert_eq!(s("aws-chunked,gzip"), Some("gzip".into()));
        assert_eq!(s("gzip, AWS-CHUNKED"), Some("gzip".into()));
        assert_eq!(s("br"), Some("br".into()));
        assert_eq!(stored_content_encoding(None), None);
    }
}
