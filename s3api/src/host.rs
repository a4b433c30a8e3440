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

impl CairnHost {
    /// The bucket a `Host` header names in virtual-host style, if it does. Host
    /// names are case-insensitive and may end with the root's dot.
    pub fn bucket_of(&self, host: &str) -> Option<String> {
        let name = strip_port(host).trim_end_matches('.').to_ascii_lowercase();
        self.domains.iter().find_map(|d| {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            name.strip_suffix(d.as_str())
                .and_then(|b| b.strip_suffix('.'))
                .filter(|b| !b.is_empty())
                .map(str::to_string)
        })
    }
}

/// The host name without its port (an IPv6 literal keeps its brackets).
fn strip_port(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((h, port)) if !h.ends_with(']') || host.starts_with('[') => {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                h
            } else {
                host
            }
        }
        _ => host,
    }
}

impl S3Host for CairnHost {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<VirtualHost<'a>> {
        match self.bucket_of(host) {
            Some(bucket) => {
                let name = strip_port(host).trim_end_matches('.');
                let domain = &name[bucket.len() + 1..];
                Ok(VirtualHost::new(domain).with_bucket(bucket))
            }
            None => Ok(VirtualHost::new(strip_port(host))),
        }
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
        assert_eq!(h.parse_host_header("b1.LOCALHOST:9000").unwrap().bucket(), Some("b1"));
        assert_eq!(h.parse_host_header("b1.localhost.").unwrap().bucket(), Some("b1"));
        assert_eq!(h.parse_host_header("B1.localhost").unwrap().bucket(), Some("b1"));
    }
}
