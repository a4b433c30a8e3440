//! Canned ACLs: parsing the `x-amz-acl` values, what each one grants, and the
//! grant lists GetBucketAcl / GetObjectAcl return. Cairn stores canned ACLs only;
//! explicit grants (`x-amz-grant-*`, an AccessControlPolicy body) answer NotImplemented.

use cairn_raft::schema::CannedAcl;
use s3s::dto::{Grant, Grantee, Owner, Permission, Type};
use s3s::{S3Result, s3_error};

pub const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
pub const AUTHENTICATED_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";

/// The headers that carry explicit grants.
pub const GRANT_HEADERS: [&str; 5] = [
    "x-amz-grant-read",
    "x-amz-grant-write",
    "x-amz-grant-read-acp",
    "x-amz-grant-write-acp",
    "x-amz-grant-full-control",
];

/// An ACL permission, as the ACL model names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Perm {
    Read,
    Write,
    ReadAcp,
    WriteAcp,
}

/// Who asks, as an ACL sees them (owners are decided before ACLs are consulted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Asker {
    Anonymous,
    /// Any signed key that owns neither the bucket nor the object.
    Authenticated,
}

pub fn parse(value: &str) -> S3Result<CannedAcl> {
    Ok(match value {
        "private" => CannedAcl::Private,
        "public-read" => CannedAcl::PublicRead,
        "public-read-write" => CannedAcl::PublicReadWrite,
        "authenticated-read" => CannedAcl::AuthenticatedRead,
        "bucket-owner-read" => CannedAcl::BucketOwnerRead,
        "bucket-owner-full-control" => CannedAcl::BucketOwnerFullControl,
        "aws-exec-read" | "log-delivery-write" => {
            return Err(s3_error!(NotImplemented, "The canned ACL {value} is not supported by Cairn."));
        }
        _ => return Err(s3_error!(InvalidArgument, "Invalid canned ACL: {value}")),
    })
}

pub fn name(acl: CannedAcl) -> &'static str {
    match acl {
        CannedAcl::Private => "private",
        CannedAcl::PublicRead => "public-read",
        CannedAcl::PublicReadWrite => "public-read-write",
        CannedAcl::AuthenticatedRead => "authenticated-read",
        CannedAcl::BucketOwnerRead => "bucket-owner-read",
        CannedAcl::BucketOwnerFullControl => "bucket-owner-full-control",
    }
}

/// The canned ACL of a request: `x-amz-acl` (absent: private); explicit grants are refused.
pub fn from_request(acl: Option<&str>, headers: &http::HeaderMap) -> S3Result<CannedAcl> {
    if let Some(h) = GRANT_HEADERS.iter().find(|h| headers.contains_key(**h)) {
        return Err(s3_error!(
            NotImplemented,
            "Cairn supports canned ACLs (x-amz-acl) only, not explicit grants ({h})."
        ));
    }
    acl.map_or(Ok(CannedAcl::Private), parse)
}

/// True if `acl` grants `perm` to `who`.
pub fn grants(acl: CannedAcl, perm: Perm, who: Asker) -> bool {
    match (acl, perm) {
        (CannedAcl::PublicRead | CannedAcl::PublicReadWrite, Perm::Read) => true,
        (CannedAcl::PublicReadWrite, Perm::Write) => true,
        (CannedAcl::AuthenticatedRead, Perm::Read) => who == Asker::Authenticated,
        _ => false,
    }
}

fn group(uri: &str, perm: &'static str) -> Grant {
    Grant {
        grantee: Some(Grantee {
            display_name: None,
            email_address: None,
            id: None,
            type_: Type::from_static(Type::GROUP),
            uri: Some(uri.to_string()),
        }),
        permission: Some(Permission::from_static(perm)),
    }
}

fn user(owner: &Owner, perm: &'static str) -> Grant {
    Grant {
        grantee: Some(Grantee {
            display_name: owner.display_name.clone(),
            email_address: None,
            id: owner.id.clone(),
            type_: Type::from_static(Type::CANONICAL_USER),
            uri: None,
        }),
        permission: Some(Permission::from_static(perm)),
    }
}

/// The grants `acl` stands for: the owner's FULL_CONTROL first, then the others.
/// `bucket_owner` matters for the bucket-owner-* ACLs of objects.
pub fn grant_list(acl: CannedAcl, owner: &Owner, bucket_owner: &Owner) -> Vec<Grant> {
    let mut out = vec![user(owner, Permission::FULL_CONTROL)];
    match acl {
        CannedAcl::Private => {}
        CannedAcl::PublicRead => out.push(group(ALL_USERS, Permission::READ)),
        CannedAcl::PublicReadWrite => {
            out.push(group(ALL_USERS, Permission::READ));
            out.push(group(ALL_USERS, Permission::WRITE));
        }
        CannedAcl::AuthenticatedRead => out.push(group(AUTHENTICATED_USERS, Permission::READ)),
        CannedAcl::BucketOwnerRead if bucket_owner.id != owner.id => out.push(user(bucket_owner, Permission::READ)),
        CannedAcl::BucketOwnerFullControl if bucket_owner.id != owner.id => {
            out.push(user(bucket_owner, Permission::FULL_CONTROL))
        }
        CannedAcl::BucketOwnerRead | CannedAcl::BucketOwnerFullControl => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_name_round_trip() {
        for acl in [
            CannedAcl::Private,
            CannedAcl::PublicRead,
            CannedAcl::PublicReadWrite,
            CannedAcl::AuthenticatedRead,
            CannedAcl::BucketOwnerRead,
            CannedAcl::BucketOwnerFullControl,
        ] {
            assert_eq!(parse(name(acl)).unwrap(), acl);
        }
        assert_eq!(parse("Public-Read").unwrap_err().code(), &s3s::S3ErrorCode::InvalidArgument);
        assert_eq!(parse("aws-exec-read").unwrap_err().code(), &s3s::S3ErrorCode::NotImplemented);
    }

    #[test]
    fn what_each_acl_grants() {
        use Asker::*;
        assert!(!grants(CannedAcl::Private, Perm::Read, Authenticated));
        assert!(grants(CannedAcl::PublicRead, Perm::Read, Anonymous));
        assert!(!grants(CannedAcl::PublicRead, Perm::Write, Anonymous));
        assert!(grants(CannedAcl::PublicReadWrite, Perm::Write, Anonymous));
        assert!(!grants(CannedAcl::PublicReadWrite, Perm::WriteAcp, Authenticated));
        assert!(grants(CannedAcl::AuthenticatedRead, Perm::Read, Authenticated));
        assert!(!grants(CannedAcl::AuthenticatedRead, Perm::Read, Anonymous));
        assert!(!grants(CannedAcl::BucketOwnerFullControl, Perm::Read, Authenticated));
    }

    #[test]
    fn grant_headers_are_refused() {
        let mut h = http::HeaderMap::new();
        assert_eq!(from_request(None, &h).unwrap(), CannedAcl::Private);
        assert_eq!(from_request(Some("public-read"), &h).unwrap(), CannedAcl::PublicRead);
        h.insert("x-amz-grant-read", http::HeaderValue::from_static("uri=\"x\""));
        assert_eq!(from_request(None, &h).unwrap_err().code(), &s3s::S3ErrorCode::NotImplemented);
    }

    #[test]
    fn grant_lists() {
        let o = Owner { id: Some("a".into()), display_name: Some("alice".into()) };
        let b = Owner { id: Some("b".into()), display_name: Some("bob".into()) };
        assert_eq!(grant_list(CannedAcl::Private, &o, &o).len(), 1);
        let g = grant_list(CannedAcl::PublicReadWrite, &o, &o);
        assert_eq!(g.len(), 3);
        assert_eq!(g[1].grantee.as_ref().unwrap().uri.as_deref(), Some(ALL_USERS));
        assert_eq!(g[2].permission.as_ref().unwrap().as_str(), "WRITE");
        assert_eq!(grant_list(CannedAcl::BucketOwnerFullControl, &o, &b).len(), 2);
        assert_eq!(grant_list(CannedAcl::BucketOwnerFullControl, &o, &o).len(), 1);
    }
}
