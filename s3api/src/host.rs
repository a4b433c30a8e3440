//! Virtual-host style addressing: `bucket.<domain>[:port]` names the bucket;
//! any other host (an IP, the bare domain, an unknown name) is path style.

use s3s::S3Result;
use s3s::host::{S3Host, VirtualHost};

pub struct CairnHost {
    domains: Vec<String>,
}

impl CairnHost {
    pub fn new(domains: Vec<String>) -> Self {
        Self { domains }
    }
}

impl S3Host for CairnHost {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<VirtualHost<'a>> {
        let name = match host.rsplit_once(':') {
            Some((h, port)) if !h.ends_with(']') || host.starts_with('[') => {
                if port.bytes().all(|b| b.is_ascii_digit()) { h } else { host }
            }
            _ => host,
        };
        for d in &self.domains {
            if let Some(bucket) = name.strip_suffix(d.as_str()).and_then(|b| b.strip_suffix('.'))
                && !bucket.is_empty()
            {
                return Ok(VirtualHost::new(d.as_str()).with_bucket(bucket));
            }
        }
        Ok(VirtualHost::new(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hosts() {
        let h = CairnHost::new(vec!["localhost".into(), "s3.example.com".into()]);
        assert_eq!(h.parse_host_header("b1.localhost:9000").unwrap().bucket(), Some("b1"));
        assert_eq!(h.parse_host_header("my.bucket.s3.example.com").unwrap().bucket(), Some("my.bucket"));
        assert_eq!(h.parse_host_header("localhost:9000").unwrap().bucket(), None);
        assert_eq!(h.parse_host_header("127.0.0.1:9000").unwrap().bucket(), None);
        assert_eq!(h.parse_host_header("[::1]:9000").unwrap().bucket(), None);
    }
}
