//! Table-driven tests for the bucket-policy module.

use std::collections::BTreeMap;

use super::condition::{Cidr, parse_date};
use super::*;

/// (condition block, request condition values, expected match)
type ConditionCase<'a> = (&'a str, &'a [(&'a str, &'a str)], bool);
/// (policy, action, resource, caller, request condition values, expected decision)
type EvalCase<'a> = (&'a str, &'a str, String, Option<&'a Principal>, &'a [(&'a str, &'a str)], Decision);

const BUCKET: &str = "photos";
const BUCKET_ARN: &str = "arn:aws:s3:::photos";

fn alice() -> Principal {
    Principal { access_key_id: "AKIAALICE".into(), canonical_id: "a1a1".into(), name: "alice".into() }
}

fn bob() -> Principal {
    Principal { access_key_id: "AKIABOB".into(), canonical_id: "b2b2".into(), name: "bob".into() }
}

fn obj(key: &str) -> String {
    format!("{BUCKET_ARN}/{key}")
}

/// Builds a condition map; repeated keys accumulate values.
fn conds(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<String>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in pairs {
        m.entry((*k).to_string()).or_default().push((*v).to_string());
    }
    m
}

fn decide(p: &Policy, action: &str, resource: &str, who: Option<&Principal>, pairs: &[(&str, &str)]) -> Decision {
    let conditions = conds(pairs);
    p.evaluate(&RequestContext { action, resource, principal: who, conditions: &conditions })
}

fn parse(json: &str) -> Policy {
    match Policy::parse(json, BUCKET) {
        Ok(p) => p,
        Err(e) => panic!("policy should parse: {e}\n{json}"),
    }
}

/// One Allow statement for everyone on s3:GetObject of every object, with `cond` as Condition.
fn allow_with_condition(cond: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject",
            "Resource":"arn:aws:s3:::photos/*","Condition":{cond}}}]}}"#
    )
}

#[test]
fn condition_operators() {
    let cases: &[ConditionCase] = &[
        // String
        (r#"{"StringEquals":{"aws:username":"alice"}}"#, &[("aws:username", "alice")], true),
        (r#"{"StringEquals":{"aws:username":"alice"}}"#, &[("aws:username", "Alice")], false),
        (r#"{"StringEquals":{"aws:username":"alice"}}"#, &[], false),
        (r#"{"StringEquals":{"aws:username":["bob","alice"]}}"#, &[("aws:username", "alice")], true),
        (r#"{"StringEquals":{"aws:username":"al*"}}"#, &[("aws:username", "alice")], false),
        (r#"{"StringNotEquals":{"aws:username":"alice"}}"#, &[("aws:username", "alice")], false),
        (r#"{"StringNotEquals":{"aws:username":"alice"}}"#, &[("aws:username", "bob")], true),
        (r#"{"StringNotEquals":{"aws:username":"alice"}}"#, &[], true),
        (r#"{"StringNotEquals":{"aws:username":["alice","bob"]}}"#, &[("aws:username", "bob")], false),
        (r#"{"StringNotEquals":{"aws:username":["alice","bob"]}}"#, &[("aws:username", "carol")], true),
        (r#"{"StringEqualsIgnoreCase":{"aws:username":"ALICE"}}"#, &[("aws:username", "alice")], true),
        (r#"{"StringEqualsIgnoreCase":{"aws:username":"ALICE"}}"#, &[("aws:username", "bob")], false),
        (r#"{"StringNotEqualsIgnoreCase":{"aws:username":"ALICE"}}"#, &[("aws:username", "Alice")], false),
        (r#"{"StringNotEqualsIgnoreCase":{"aws:username":"ALICE"}}"#, &[("aws:username", "carol")], true),
        (r#"{"StringLike":{"s3:prefix":["home/*","public/?"]}}"#, &[("s3:prefix", "home/x/y")], true),
        (r#"{"StringLike":{"s3:prefix":["home/*","public/?"]}}"#, &[("s3:prefix", "public/a")], true),
        (r#"{"StringLike":{"s3:prefix":["home/*","public/?"]}}"#, &[("s3:prefix", "public/ab")], false),
        (r#"{"StringLike":{"s3:prefix":["home/*","public/?"]}}"#, &[("s3:prefix", "Home/x")], false),
        (r#"{"StringLike":{"s3:prefix":"home/*"}}"#, &[], false),
        (r#"{"StringNotLike":{"s3:prefix":"home/*"}}"#, &[("s3:prefix", "tmp/")], true),
        (r#"{"StringNotLike":{"s3:prefix":"home/*"}}"#, &[("s3:prefix", "home/a")], false),
        (r#"{"StringNotLike":{"s3:prefix":"home/*"}}"#, &[], true),
        (r#"{"BinaryEquals":{"s3:x-bin":"QmluYXJ5"}}"#, &[("s3:x-bin", "QmluYXJ5")], true),
        (r#"{"BinaryEquals":{"s3:x-bin":"QmluYXJ5"}}"#, &[("s3:x-bin", "qmluyxj5")], false),
        // Condition keys are case-insensitive, on both sides.
        (r#"{"StringEquals":{"AWS:UserName":"alice"}}"#, &[("aws:username", "alice")], true),
        (r#"{"StringEquals":{"aws:username":"alice"}}"#, &[("AWS:USERNAME", "alice")], true),
        // Operator names are accepted case-insensitively.
        (r#"{"stringequals":{"aws:username":"alice"}}"#, &[("aws:username", "alice")], true),
        // Numeric
        (r#"{"NumericLessThan":{"s3:max-keys":"100"}}"#, &[("s3:max-keys", "99")], true),
        (r#"{"NumericLessThan":{"s3:max-keys":"100"}}"#, &[("s3:max-keys", "100")], false),
        (r#"{"NumericLessThan":{"s3:max-keys":"100"}}"#, &[("s3:max-keys", "abc")], false),
        (r#"{"NumericLessThan":{"s3:max-keys":"100"}}"#, &[], false),
        (r#"{"NumericLessThanEquals":{"s3:max-keys":100}}"#, &[("s3:max-keys", "100")], true),
        (r#"{"NumericLessThanEquals":{"s3:max-keys":100}}"#, &[("s3:max-keys", "101")], false),
        (r#"{"NumericGreaterThan":{"s3:max-keys":"10"}}"#, &[("s3:max-keys", "11")], true),
        (r#"{"NumericGreaterThan":{"s3:max-keys":"10"}}"#, &[("s3:max-keys", "10")], false),
        (r#"{"NumericGreaterThanEquals":{"s3:max-keys":"10"}}"#, &[("s3:max-keys", "10")], true),
        (r#"{"NumericGreaterThanEquals":{"s3:max-keys":"10"}}"#, &[("s3:max-keys", "9.5")], false),
        (r#"{"NumericEquals":{"s3:max-keys":10}}"#, &[("s3:max-keys", "10.0")], true),
        (r#"{"NumericEquals":{"s3:max-keys":10}}"#, &[("s3:max-keys", "11")], false),
        (r#"{"NumericNotEquals":{"s3:max-keys":"10"}}"#, &[("s3:max-keys", "11")], true),
        (r#"{"NumericNotEquals":{"s3:max-keys":"10"}}"#, &[("s3:max-keys", "10")], false),
        (r#"{"NumericNotEquals":{"s3:max-keys":"10"}}"#, &[], true),
        // Date
        (
            r#"{"DateLessThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}"#,
            &[("aws:CurrentTime", "2025-12-31T23:59:59Z")],
            true,
        ),
        (
            r#"{"DateLessThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}"#,
            &[("aws:CurrentTime", "2026-01-01T00:00:00Z")],
            false,
        ),
        (r#"{"DateLessThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}"#, &[], false),
        (
            r#"{"DateLessThanEquals":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}"#,
            &[("aws:CurrentTime", "2026-01-01T00:00:00Z")],
            true,
        ),
        (
            r#"{"DateLessThanEquals":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}"#,
            &[("aws:CurrentTime", "2026-01-01T00:00:01Z")],
            false,
        ),
        (
            r#"{"DateGreaterThan":{"aws:CurrentTime":"2026-01-01"}}"#,
            &[("aws:CurrentTime", "2026-01-01T00:00:01Z")],
            true,
        ),
        (
            r#"{"DateGreaterThan":{"aws:CurrentTime":"2026-01-01"}}"#,
            &[("aws:CurrentTime", "2025-06-01T00:00:00Z")],
            false,
        ),
        (
            r#"{"DateGreaterThanEquals":{"aws:CurrentTime":1767225600}}"#,
            &[("aws:CurrentTime", "2026-01-01T00:00:00Z")],
            true,
        ),
        (
            r#"{"DateGreaterThanEquals":{"aws:CurrentTime":"1767225600"}}"#,
            &[("aws:CurrentTime", "2025-12-31T00:00:00+00:00")],
            false,
        ),
        (
            r#"{"DateEquals":{"aws:CurrentTime":"2026-01-01T01:00:00+01:00"}}"#,
            &[("aws:CurrentTime", "2026-01-01T00:00:00Z")],
            true,
        ),
        (r#"{"DateEquals":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}"#, &[("aws:CurrentTime", "1767225600")], true),
        (r#"{"DateEquals":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}"#, &[("aws:CurrentTime", "not a date")], false),
        (
            r#"{"DateNotEquals":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}"#,
            &[("aws:CurrentTime", "2026-01-01T00:00:00.000Z")],
            false,
        ),
        (
            r#"{"DateNotEquals":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}"#,
            &[("aws:CurrentTime", "2026-01-02T00:00:00Z")],
            true,
        ),
        // Bool
        (r#"{"Bool":{"aws:SecureTransport":"true"}}"#, &[("aws:SecureTransport", "true")], true),
        (r#"{"Bool":{"aws:SecureTransport":"true"}}"#, &[("aws:SecureTransport", "false")], false),
        (r#"{"Bool":{"aws:SecureTransport":"true"}}"#, &[], false),
        (r#"{"Bool":{"aws:SecureTransport":true}}"#, &[("aws:securetransport", "TRUE")], true),
        (r#"{"Bool":{"aws:SecureTransport":"false"}}"#, &[("aws:SecureTransport", "true")], false),
        // IP
        (r#"{"IpAddress":{"aws:SourceIp":"192.168.1.0/24"}}"#, &[("aws:SourceIp", "192.168.1.77")], true),
        (r#"{"IpAddress":{"aws:SourceIp":"192.168.1.0/24"}}"#, &[("aws:SourceIp", "192.168.2.1")], false),
        (r#"{"IpAddress":{"aws:SourceIp":"192.168.1.0/24"}}"#, &[], false),
        (r#"{"IpAddress":{"aws:SourceIp":"192.168.1.0/24"}}"#, &[("aws:SourceIp", "garbage")], false),
        (r#"{"IpAddress":{"aws:SourceIp":"10.0.0.1"}}"#, &[("aws:SourceIp", "10.0.0.1")], true),
        (r#"{"IpAddress":{"aws:SourceIp":"10.0.0.1"}}"#, &[("aws:SourceIp", "10.0.0.2")], false),
        (r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#, &[("aws:SourceIp", "::ffff:10.1.2.3")], true),
        (r#"{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}"#, &[("aws:SourceIp", "203.0.113.9")], true),
        (r#"{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}"#, &[("aws:SourceIp", "2001:db8:1::5")], true),
        (r#"{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}"#, &[("aws:SourceIp", "2001:db9::1")], false),
        (r#"{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}"#, &[("aws:SourceIp", "10.0.0.1")], false),
        (r#"{"IpAddress":{"aws:SourceIp":"::1"}}"#, &[("aws:SourceIp", "::1")], true),
        (r#"{"IpAddress":{"aws:SourceIp":"::1"}}"#, &[("aws:SourceIp", "::2")], false),
        (
            r#"{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","172.16.0.0/12"]}}"#,
            &[("aws:SourceIp", "172.20.1.1")],
            false,
        ),
        (r#"{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","172.16.0.0/12"]}}"#, &[("aws:SourceIp", "8.8.8.8")], true),
        (r#"{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","172.16.0.0/12"]}}"#, &[], true),
        // ARN
        (
            r#"{"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:123456789012:topic-*"}}"#,
            &[("aws:SourceArn", "arn:aws:sns:us-east-1:123456789012:topic-a")],
            true,
        ),
        (
            r#"{"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:123456789012:topic-*"}}"#,
            &[("aws:SourceArn", "arn:aws:sns:us-east-1:999999999999:topic-a")],
            false,
        ),
        // `*` in one component does not swallow a colon.
        (
            r#"{"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:123456789012:*"}}"#,
            &[("aws:SourceArn", "arn:aws:sns:us-east-1:x:123456789012:t")],
            false,
        ),
        (
            r#"{"ArnLike":{"aws:SourceArn":"arn:aws:s3:::photos/*"}}"#,
            &[("aws:SourceArn", "arn:aws:s3:::photos/a:b")],
            true,
        ),
        (
            r#"{"ArnEquals":{"aws:SourceArn":"arn:aws:sns:us-east-1:123456789012:t"}}"#,
            &[("aws:SourceArn", "arn:aws:sns:us-east-1:123456789012:t")],
            true,
        ),
        (
            r#"{"ArnEquals":{"aws:SourceArn":"arn:aws:sns:us-east-1:123456789012:t"}}"#,
            &[("aws:SourceArn", "arn:aws:sns:us-east-1:123456789012:T")],
            false,
        ),
        (
            r#"{"ArnNotEquals":{"aws:SourceArn":"arn:aws:sns:us-east-1:123456789012:t"}}"#,
            &[("aws:SourceArn", "arn:aws:sns:us-east-1:123456789012:u")],
            true,
        ),
        (r#"{"ArnNotLike":{"aws:SourceArn":"arn:aws:sns:*:*:*"}}"#, &[("aws:SourceArn", "arn:aws:sns:r:1:t")], false),
        (r#"{"ArnNotLike":{"aws:SourceArn":"arn:aws:sns:*:*:*"}}"#, &[], true),
        // Null: true = key absent.
        (r#"{"Null":{"aws:SourceIp":"true"}}"#, &[], true),
        (r#"{"Null":{"aws:SourceIp":"true"}}"#, &[("aws:SourceIp", "1.2.3.4")], false),
        (r#"{"Null":{"aws:SourceIp":false}}"#, &[("aws:SourceIp", "1.2.3.4")], true),
        (r#"{"Null":{"aws:SourceIp":false}}"#, &[], false),
        // IfExists: a missing key matches; a present key is tested normally.
        (r#"{"StringEqualsIfExists":{"aws:username":"alice"}}"#, &[], true),
        (r#"{"StringEqualsIfExists":{"aws:username":"alice"}}"#, &[("aws:username", "bob")], false),
        (r#"{"StringEqualsIfExists":{"aws:username":"alice"}}"#, &[("aws:username", "alice")], true),
        (r#"{"NumericLessThanIfExists":{"s3:max-keys":"5"}}"#, &[], true),
        (r#"{"NumericLessThanIfExists":{"s3:max-keys":"5"}}"#, &[("s3:max-keys", "6")], false),
        (r#"{"IpAddressIfExists":{"aws:SourceIp":"10.0.0.0/8"}}"#, &[], true),
        (r#"{"BoolIfExists":{"aws:SecureTransport":"true"}}"#, &[("aws:SecureTransport", "false")], false),
        (r#"{"DateLessThanIfExists":{"aws:CurrentTime":"2026-01-01"}}"#, &[], true),
        // Set qualifiers on a multi-valued key.
        (
            r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":["b","c"]}}"#,
            &[("aws:TagKeys", "a"), ("aws:TagKeys", "b")],
            true,
        ),
        (r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":["b","c"]}}"#, &[("aws:TagKeys", "a")], false),
        (r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":["b","c"]}}"#, &[], false),
        (
            r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}"#,
            &[("aws:TagKeys", "a"), ("aws:TagKeys", "b")],
            true,
        ),
        (
            r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}"#,
            &[("aws:TagKeys", "a"), ("aws:TagKeys", "c")],
            false,
        ),
        (r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}"#, &[], true),
        (r#"{"ForAnyValue:StringNotEquals":{"aws:TagKeys":"a"}}"#, &[("aws:TagKeys", "a"), ("aws:TagKeys", "b")], true),
        (r#"{"ForAnyValue:StringNotEquals":{"aws:TagKeys":"a"}}"#, &[("aws:TagKeys", "a")], false),
        (
            r#"{"ForAllValues:StringLike":{"aws:TagKeys":"tag-*"}}"#,
            &[("aws:TagKeys", "tag-a"), ("aws:TagKeys", "tag-b")],
            true,
        ),
        (
            r#"{"ForAllValues:StringLike":{"aws:TagKeys":"tag-*"}}"#,
            &[("aws:TagKeys", "tag-a"), ("aws:TagKeys", "x")],
            false,
        ),
        (r#"{"forallvalues:StringEquals":{"aws:TagKeys":"a"}}"#, &[("aws:TagKeys", "b")], false),
        // Without a qualifier: any request value may match; a negated operator must match none.
        (r#"{"StringEquals":{"aws:TagKeys":"b"}}"#, &[("aws:TagKeys", "a"), ("aws:TagKeys", "b")], true),
        (r#"{"StringNotEquals":{"aws:TagKeys":"b"}}"#, &[("aws:TagKeys", "a"), ("aws:TagKeys", "b")], false),
        // AND across keys and across operators.
        (
            r#"{"StringEquals":{"aws:username":"alice","s3:prefix":"home/"}}"#,
            &[("aws:username", "alice"), ("s3:prefix", "home/")],
            true,
        ),
        (r#"{"StringEquals":{"aws:username":"alice","s3:prefix":"home/"}}"#, &[("aws:username", "alice")], false),
        (
            r#"{"StringEquals":{"aws:username":"alice"},"Bool":{"aws:SecureTransport":"true"}}"#,
            &[("aws:username", "alice"), ("aws:SecureTransport", "true")],
            true,
        ),
        (
            r#"{"StringEquals":{"aws:username":"alice"},"Bool":{"aws:SecureTransport":"true"}}"#,
            &[("aws:username", "alice"), ("aws:SecureTransport", "false")],
            false,
        ),
        (r#"{}"#, &[], true),
        // Policy variables in condition values (aws:username falls back to the principal's name).
        (r#"{"StringLike":{"s3:prefix":"home/${aws:username}/*"}}"#, &[("s3:prefix", "home/alice/x")], true),
        (r#"{"StringLike":{"s3:prefix":"home/${aws:username}/*"}}"#, &[("s3:prefix", "home/bob/x")], false),
        (r#"{"StringEquals":{"s3:prefix":"${aws:username}"}}"#, &[("s3:prefix", "bob"), ("aws:username", "bob")], true),
        (r#"{"StringEquals":{"s3:prefix":"${aws:nosuchkey}"}}"#, &[("s3:prefix", "")], false),
        (r#"{"StringNotEquals":{"s3:prefix":"${aws:nosuchkey}"}}"#, &[("s3:prefix", "x")], false),
        (r#"{"StringEquals":{"s3:prefix":"${aws:nosuchkey, 'dflt'}"}}"#, &[("s3:prefix", "dflt")], true),
    ];
    let who = alice();
    for (i, (cond, pairs, want)) in cases.iter().enumerate() {
        let p = parse(&allow_with_condition(cond));
        let got = decide(&p, "s3:GetObject", &obj("a.jpg"), Some(&who), pairs);
        let want = if *want { Decision::Allow } else { Decision::NoMatch };
        assert_eq!(got, want, "case {i}: {cond} with {pairs:?}");
    }
}

#[test]
fn action_patterns() {
    // (Action pattern, request action, expected match)
    let cases: &[(&str, &str, bool)] = &[
        ("s3:GetObject", "s3:GetObject", true),
        ("s3:GetObject", "s3:getobject", true),
        ("S3:GETOBJECT", "s3:GetObject", true),
        ("s3:GetObject", "s3:GetObjectVersion", false),
        ("s3:GetObject", "s3:PutObject", false),
        ("s3:Get*", "s3:GetObjectAcl", true),
        ("s3:Get*", "s3:PutObject", false),
        ("s3:get*", "s3:GetBucketPolicy", true),
        ("s3:*", "s3:DeleteBucket", true),
        ("*", "s3:ListBucket", true),
        ("s3:*Object", "s3:PutObject", true),
        ("s3:*Object", "s3:PutObjectAcl", false),
        ("s3:?etObject", "s3:GetObject", true),
        ("s3:?etObject", "s3:GetObjectAcl", false),
        ("s3:List*", "s3:ListBucketVersions", true),
        ("s3:*MultipartUploads", "s3:ListBucketMultipartUploads", true),
        ("s3:*MultipartUploads", "s3:ListMultipartUploadParts", false),
    ];
    for (i, (pattern, action, want)) in cases.iter().enumerate() {
        let p = parse(&format!(
            r#"{{"Statement":{{"Effect":"Allow","Principal":"*","Action":"{pattern}","Resource":["{BUCKET_ARN}","{BUCKET_ARN}/*"]}}}}"#
        ));
        let got = decide(&p, action, &obj("k"), None, &[]);
        let want = if *want { Decision::Allow } else { Decision::NoMatch };
        assert_eq!(got, want, "case {i}: {pattern} vs {action}");
    }
}

#[test]
fn resource_patterns() {
    // (Version, Resource pattern, request resource, principal, expected match)
    let a = alice();
    let star_user = Principal { name: "*".into(), ..bob() };
    let cases: &[(&str, &str, String, Option<&Principal>, bool)] = &[
        ("2012-10-17", "arn:aws:s3:::photos/*", obj("a/b.jpg"), None, true),
        ("2012-10-17", "arn:aws:s3:::photos/*", BUCKET_ARN.to_string(), None, false),
        ("2012-10-17", "arn:aws:s3:::photos", BUCKET_ARN.to_string(), None, true),
        ("2012-10-17", "arn:aws:s3:::photos", obj("a"), None, false),
        ("2012-10-17", "arn:aws:s3:::photos/public/*", obj("public/a/b.jpg"), None, true),
        ("2012-10-17", "arn:aws:s3:::photos/public/*", obj("private/a"), None, false),
        ("2012-10-17", "arn:aws:s3:::photos/*.jpg", obj("a/b.jpg"), None, true),
        ("2012-10-17", "arn:aws:s3:::photos/*.jpg", obj("a.png"), None, false),
        ("2012-10-17", "arn:aws:s3:::photos/img?.png", obj("img1.png"), None, true),
        ("2012-10-17", "arn:aws:s3:::photos/img?.png", obj("img10.png"), None, false),
        ("2012-10-17", "arn:aws:s3:::photos/Public/*", obj("public/x"), None, false),
        ("2012-10-17", "arn:aws:s3:::photos*", BUCKET_ARN.to_string(), None, true),
        ("2012-10-17", "arn:aws:s3:::photos*", obj("x"), None, true),
        ("2012-10-17", "arn:aws:s3:::*", obj("x"), None, true),
        ("2012-10-17", "arn:aws:s3:::ph?tos/x", obj("x"), None, true),
        ("2012-10-17", "arn:aws:s3:::photos/${aws:username}/*", obj("alice/x"), Some(&a), true),
        ("2012-10-17", "arn:aws:s3:::photos/${aws:username}/*", obj("bob/x"), Some(&a), false),
        // Anonymous callers have no user name: the statement does not apply.
        ("2012-10-17", "arn:aws:s3:::photos/${aws:username}/*", obj("/x"), None, false),
        ("2012-10-17", "arn:aws:s3:::photos/${aws:username, 'guest'}/*", obj("guest/x"), None, true),
        ("2012-10-17", "arn:aws:s3:::photos/${aws:userid}/*", obj("a1a1/x"), Some(&a), true),
        ("2012-10-17", "arn:aws:s3:::photos/star${*}", obj("star*"), None, true),
        ("2012-10-17", "arn:aws:s3:::photos/star${*}", obj("starX"), None, false),
        // Substituted text is literal: a user named "*" gets no wildcard.
        ("2012-10-17", "arn:aws:s3:::photos/${aws:username}/*", obj("alice/x"), Some(&star_user), false),
        ("2012-10-17", "arn:aws:s3:::photos/${aws:username}/*", obj("*/x"), Some(&star_user), true),
        // Version 2008-10-17 (or none) has no policy variables: the text is literal.
        ("2008-10-17", "arn:aws:s3:::photos/${aws:username}/*", obj("alice/x"), Some(&a), false),
        ("2008-10-17", "arn:aws:s3:::photos/${aws:username}/*", obj("${aws:username}/x"), Some(&a), true),
    ];
    for (i, (version, pattern, resource, who, want)) in cases.iter().enumerate() {
        let p = parse(&format!(
            r#"{{"Version":"{version}","Statement":{{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"{pattern}"}}}}"#
        ));
        let got = decide(&p, "s3:GetObject", resource, *who, &[]);
        let want = if *want { Decision::Allow } else { Decision::NoMatch };
        assert_eq!(got, want, "case {i}: {pattern} vs {resource}");
    }
}

#[test]
fn principals() {
    let (a, b) = (alice(), bob());
    // (Principal JSON, caller, expected match)
    let cases: &[(&str, Option<&Principal>, bool)] = &[
        (r#""*""#, None, true),
        (r#""*""#, Some(&a), true),
        (r#"{"AWS":"*"}"#, None, true),
        (r#"{"AWS":["*"]}"#, Some(&b), true),
        (r#"{"AWS":"AKIAALICE"}"#, Some(&a), true),
        (r#"{"AWS":"AKIAALICE"}"#, Some(&b), false),
        (r#"{"AWS":"AKIAALICE"}"#, None, false),
        (r#"{"AWS":["AKIABOB","AKIAALICE"]}"#, Some(&a), true),
        (r#"{"AWS":"a1a1"}"#, Some(&a), true),
        (r#"{"AWS":"arn:aws:iam::123456789012:user/alice"}"#, Some(&a), true),
        (r#"{"AWS":"arn:aws:iam::123456789012:user/alice"}"#, Some(&b), false),
        (r#"{"AWS":"arn:aws:iam::123456789012:user/team/alice"}"#, Some(&a), true),
        (r#"{"AWS":"arn:aws:iam::a1a1:user/alicex"}"#, Some(&a), false),
        (r#"{"AWS":"arn:aws:iam::a1a1:root"}"#, Some(&a), true),
        (r#"{"AWS":"arn:aws:iam::a1a1:root"}"#, Some(&b), false),
        (r#"{"AWS":"arn:aws:iam::a1a1:root"}"#, None, false),
        (r#"{"CanonicalUser":"a1a1"}"#, Some(&a), true),
        (r#"{"CanonicalUser":"a1a1"}"#, None, false),
        (r#"{"CanonicalUser":"AKIAALICE"}"#, Some(&a), false),
        (r#"{"Service":"logging.s3.amazonaws.com"}"#, Some(&a), false),
        (r#"{"AWS":"AKIABOB","CanonicalUser":"a1a1"}"#, Some(&a), true),
    ];
    for (i, (principal, who, want)) in cases.iter().enumerate() {
        let p = parse(&format!(
            r#"{{"Statement":[{{"Effect":"Allow","Principal":{principal},"Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}}]}}"#
        ));
        let got = decide(&p, "s3:GetObject", &obj("k"), *who, &[]);
        let want = if *want { Decision::Allow } else { Decision::NoMatch };
        assert_eq!(got, want, "case {i}: {principal} vs {who:?}");
    }
}

#[test]
fn evaluation_order_and_negations() {
    let a = alice();
    // (policy, action, resource, conditions, expected)
    let deny_insecure = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"},
        {"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::photos","arn:aws:s3:::photos/*"],
         "Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#;
    let deny_outside = r#"{"Statement":[
        {"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::photos/*",
         "Condition":{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}},
        {"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::photos/*"}]}"#;
    let not_action = r#"{"Statement":[
        {"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::photos/*"},
        {"Effect":"Deny","Principal":"*","NotAction":["s3:GetObject","s3:GetObjectAcl"],"Resource":"arn:aws:s3:::photos/*"}]}"#;
    let not_resource = r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject",
        "NotResource":["arn:aws:s3:::photos/secret/*","arn:aws:s3:::photos/private/*"]}}"#;
    let deny_user = r#"{"Statement":[
        {"Effect":"Deny","Principal":{"AWS":"AKIAALICE"},"Action":"s3:DeleteObject","Resource":"arn:aws:s3:::photos/*"},
        {"Effect":"Allow","Principal":{"AWS":"*"},"Action":["s3:GetObject","s3:DeleteObject"],"Resource":"arn:aws:s3:::photos/*"}]}"#;
    let list_prefix = r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::photos",
        "Condition":{"StringLike":{"s3:prefix":"public/*"},"NumericLessThanEquals":{"s3:max-keys":"100"}}}}"#;
    let cases: &[EvalCase] = &[
        (deny_insecure, "s3:GetObject", obj("a"), None, &[("aws:SecureTransport", "true")], Decision::Allow),
        (deny_insecure, "s3:GetObject", obj("a"), None, &[("aws:SecureTransport", "false")], Decision::Deny),
        (deny_insecure, "s3:GetObject", obj("a"), None, &[], Decision::Allow),
        (deny_insecure, "s3:PutObject", obj("a"), None, &[("aws:SecureTransport", "true")], Decision::NoMatch),
        (deny_insecure, "s3:ListBucket", BUCKET_ARN.into(), None, &[("aws:SecureTransport", "false")], Decision::Deny),
        (deny_outside, "s3:GetObject", obj("a"), None, &[("aws:SourceIp", "10.9.8.7")], Decision::Allow),
        (deny_outside, "s3:GetObject", obj("a"), None, &[("aws:SourceIp", "11.0.0.1")], Decision::Deny),
        (deny_outside, "s3:GetObject", obj("a"), None, &[], Decision::Deny),
        (not_action, "s3:GetObject", obj("a"), None, &[], Decision::Allow),
        (not_action, "s3:getobjectacl", obj("a"), None, &[], Decision::Allow),
        (not_action, "s3:PutObject", obj("a"), None, &[], Decision::Deny),
        (not_resource, "s3:GetObject", obj("a"), None, &[], Decision::Allow),
        (not_resource, "s3:GetObject", obj("secret/a"), None, &[], Decision::NoMatch),
        (not_resource, "s3:GetObject", obj("private/a"), None, &[], Decision::NoMatch),
        (not_resource, "s3:PutObject", obj("a"), None, &[], Decision::NoMatch),
        (deny_user, "s3:DeleteObject", obj("a"), Some(&a), &[], Decision::Deny),
        (deny_user, "s3:GetObject", obj("a"), Some(&a), &[], Decision::Allow),
        (deny_user, "s3:DeleteObject", obj("a"), None, &[], Decision::Allow),
        (
            list_prefix,
            "s3:ListBucket",
            BUCKET_ARN.into(),
            None,
            &[("s3:prefix", "public/2026/"), ("s3:max-keys", "50")],
            Decision::Allow,
        ),
        (
            list_prefix,
            "s3:ListBucket",
            BUCKET_ARN.into(),
            None,
            &[("s3:prefix", "private/"), ("s3:max-keys", "50")],
            Decision::NoMatch,
        ),
        (
            list_prefix,
            "s3:ListBucket",
            BUCKET_ARN.into(),
            None,
            &[("s3:prefix", "public/"), ("s3:max-keys", "1000")],
            Decision::NoMatch,
        ),
        (list_prefix, "s3:ListBucket", BUCKET_ARN.into(), None, &[("s3:prefix", "public/")], Decision::NoMatch),
    ];
    for (i, (policy, action, resource, who, pairs, want)) in cases.iter().enumerate() {
        let p = parse(policy);
        assert_eq!(decide(&p, action, resource, *who, pairs), *want, "case {i}: {action} {resource} {pairs:?}");
    }
}

#[test]
fn parse_errors() {
    let st = |body: &str| format!(r#"{{"Version":"2012-10-17","Statement":[{body}]}}"#);
    let ok_head = r#""Effect":"Allow","Principal":"*""#;
    let with_cond = |cond: &str| {
        st(&format!(r#"{{{ok_head},"Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*","Condition":{cond}}}"#))
    };
    let with_resource = |r: &str| st(&format!(r#"{{{ok_head},"Action":"s3:GetObject","Resource":{r}}}"#));
    let with_action = |a: &str| st(&format!(r#"{{{ok_head},"Action":{a},"Resource":"arn:aws:s3:::photos/*"}}"#));
    let oversize = format!(
        r#"{{"Statement":{{"Sid":"{}","Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::photos"}}}}"#,
        "x".repeat(MAX_POLICY_SIZE)
    );
    // (document, expected fragment of the error message)
    let cases: Vec<(String, &str)> = vec![
        ("not json".into(), "valid JSON"),
        (r#"{"Statement":"#.into(), "valid JSON"),
        ("[]".into(), "JSON object"),
        ("{}".into(), "Missing required field Statement"),
        (r#"{"Version":"2012-10-17"}"#.into(), "Missing required field Statement"),
        (r#"{"Statement":[]}"#.into(), "Statement must not be empty"),
        (r#"{"Statement":"x"}"#.into(), "Statement must be an object or an array"),
        (r#"{"Statement":["x"]}"#.into(), "Statement[0] must be an object"),
        (r#"{"Version":"2020-01-01","Statement":{}}"#.into(), "Version must be"),
        (r#"{"Version":20121017,"Statement":{}}"#.into(), "Version must be"),
        (r#"{"Id":5,"Statement":{}}"#.into(), "Id must be a string"),
        (r#"{"Foo":1,"Statement":{}}"#.into(), "Unknown field Foo"),
        (oversize, "maximum allowed document size"),
        (
            st(r#"{"Effect":"allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::photos"}"#),
            r#"Statement[0].Effect must be "Allow" or "Deny""#,
        ),
        (
            st(r#"{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::photos"},
                 {"Effect":"Permit","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::photos"}"#),
            r#"Statement[1].Effect must be "Allow" or "Deny""#,
        ),
        (
            st(r#"{"Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::photos"}"#),
            "Statement[0]: missing required field Effect",
        ),
        (
            st(r#"{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::photos"}"#),
            "missing required field Principal",
        ),
        (
            st(r#"{"Effect":"Allow","NotPrincipal":{"AWS":"x"},"Action":"s3:*","Resource":"arn:aws:s3:::photos"}"#),
            "NotPrincipal is not supported",
        ),
        (
            st(r#"{"Effect":"Allow","Principal":"alice","Action":"s3:*","Resource":"arn:aws:s3:::photos"}"#),
            "Invalid principal",
        ),
        (
            st(r#"{"Effect":"Allow","Principal":{"Foo":"x"},"Action":"s3:*","Resource":"arn:aws:s3:::photos"}"#),
            "unknown principal type Foo",
        ),
        (
            st(r#"{"Effect":"Allow","Principal":{},"Action":"s3:*","Resource":"arn:aws:s3:::photos"}"#),
            "Invalid principal",
        ),
        (
            st(r#"{"Effect":"Allow","Principal":{"AWS":""},"Action":"s3:*","Resource":"arn:aws:s3:::photos"}"#),
            "must not be empty",
        ),
        (
            st(r#"{"Effect":"Allow","Principal":{"AWS":[1]},"Action":"s3:*","Resource":"arn:aws:s3:::photos"}"#),
            "Invalid principal",
        ),
        (
            st(r#"{"Effect":"Allow","Principal":5,"Action":"s3:*","Resource":"arn:aws:s3:::photos"}"#),
            "Invalid principal",
        ),
        (
            st(
                r#"{"Effect":"Allow","Principal":"*","Action":"s3:*","NotAction":"s3:GetObject","Resource":"arn:aws:s3:::photos"}"#,
            ),
            "Action and NotAction cannot both be present",
        ),
        (st(r#"{"Effect":"Allow","Principal":"*","Resource":"arn:aws:s3:::photos"}"#), "missing required field Action"),
        (with_action(r#""s3:GetObjekt""#), "unknown action s3:GetObjekt"),
        (with_action(r#"["s3:GetObject","s3:Frobnicate"]"#), "unknown action s3:Frobnicate"),
        (with_action(r#""iam:PassRole""#), "unknown action iam:PassRole"),
        (with_action(r#""s3:Foo*""#), "unknown action s3:Foo*"),
        (with_action(r#""""#), "empty action"),
        (with_action("[]"), "Statement[0].Action must not be empty"),
        (with_action("5"), "Action must be a string or an array"),
        (
            st(
                r#"{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::photos","NotResource":"arn:aws:s3:::photos"}"#,
            ),
            "Resource and NotResource cannot both be present",
        ),
        (st(r#"{"Effect":"Allow","Principal":"*","Action":"s3:*"}"#), "missing required field Resource"),
        (with_resource(r#""arn:aws:s3:::other/*""#), "Policy has invalid resource"),
        (with_resource(r#""arn:aws:s3:::photosX""#), "Policy has invalid resource"),
        (with_resource(r#"["arn:aws:s3:::photos","arn:aws:s3:::photo"]"#), "Policy has invalid resource"),
        (with_resource(r#""*""#), "Policy has invalid resource"),
        (with_resource(r#""arn:aws:s3:::""#), "Policy has invalid resource"),
        (with_resource(r#""arn:aws:s3:::${aws:username}/x""#), "Policy has invalid resource"),
        (with_resource(r#""arn:aws:ec2:::photos""#), "Policy has invalid resource"),
        (with_resource(r#""arn:aws:s3:::other*/x""#), "Policy has invalid resource"),
        (with_resource("[]"), "Resource must not be empty"),
        (with_cond(r#"{"StringEqualz":{"k":"v"}}"#), "unknown condition operator StringEqualz"),
        (with_cond(r#"{"NullIfExists":{"k":"true"}}"#), "unknown condition operator NullIfExists"),
        (with_cond(r#"{"ForAnyValue:Null":{"k":"true"}}"#), "unknown condition operator"),
        (with_cond(r#"{"ForSomeValues:StringEquals":{"k":"v"}}"#), "unknown condition operator"),
        (with_cond(r#"{"IfExists":{"k":"v"}}"#), "unknown condition operator IfExists"),
        (with_cond(r#"{"NumericLessThan":{"s3:max-keys":"abc"}}"#), "invalid numeric value \"abc\""),
        (with_cond(r#"{"NumericLessThan":{"s3:max-keys":"NaN"}}"#), "invalid numeric value"),
        (with_cond(r#"{"NumericLessThan":{"s3:max-keys":"inf"}}"#), "invalid numeric value"),
        (with_cond(r#"{"DateLessThan":{"aws:CurrentTime":"yesterday"}}"#), "invalid date value"),
        (with_cond(r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/33"}}"#), "invalid IP address value"),
        (with_cond(r#"{"IpAddress":{"aws:SourceIp":"300.1.1.1"}}"#), "invalid IP address value"),
        (with_cond(r#"{"IpAddress":{"aws:SourceIp":"::/129"}}"#), "invalid IP address value"),
        (with_cond(r#"{"Bool":{"aws:SecureTransport":"yes"}}"#), "invalid boolean value"),
        (with_cond(r#"{"Null":{"aws:SourceIp":"maybe"}}"#), "invalid boolean value"),
        (with_cond(r#"{"StringEquals":{"k":{"a":"b"}}}"#), "values must be strings, numbers or booleans"),
        (with_cond(r#"{"StringEquals":{"k":null}}"#), "values must be strings, numbers or booleans"),
        (with_cond(r#"{"StringEquals":{"k":[]}}"#), "has no values"),
        (with_cond(r#"{"StringEquals":{"":"v"}}"#), "empty condition key"),
        (with_cond(r#"{"StringEquals":"v"}"#), "must be an object of condition keys"),
        (with_cond(r#""x""#), "Condition must be an object"),
        (
            st(r#"{"Sid":5,"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::photos"}"#),
            "Sid must be a string",
        ),
        (
            st(r#"{"Effect":"Allow","Principal":"*","Actions":"s3:*","Resource":"arn:aws:s3:::photos"}"#),
            "unknown field Actions",
        ),
    ];
    for (i, (doc, want)) in cases.iter().enumerate() {
        match Policy::parse(doc, BUCKET) {
            Ok(_) => panic!("case {i}: should be rejected: {doc}"),
            Err(e) => assert!(e.to_string().contains(want), "case {i}: error {e:?} should contain {want:?}"),
        }
    }
}

#[test]
fn accepted_documents() {
    let docs = [
        // Statement as a single object, no Version, no Sid.
        r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}}"#,
        // Duplicate Sids, Id, 2008 version, NotResource, arrays everywhere.
        r#"{"Version":"2008-10-17","Id":"p1","Statement":[
            {"Sid":"a","Effect":"Allow","Principal":{"AWS":["*"]},"Action":["s3:GetObject"],"Resource":["arn:aws:s3:::photos/*"]},
            {"Sid":"a","Effect":"Deny","Principal":{"CanonicalUser":["x"]},"NotAction":"s3:*","NotResource":"arn:aws:s3:::photos"}]}"#,
        // Leading BOM, Service principal, empty condition block, IfExists + qualifier combos.
        "\u{feff}{\"Statement\":{\"Effect\":\"Deny\",\"Principal\":{\"Service\":\"s3.amazonaws.com\"},\"Action\":\"*\",\"Resource\":\"arn:aws:s3:::photos\",\"Condition\":{}}}",
        r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::photos",
            "Condition":{"ForAllValues:StringLikeIfExists":{"aws:TagKeys":["a*",1,true]},"IpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32"]}}}}"#,
    ];
    for (i, doc) in docs.iter().enumerate() {
        let p = Policy::parse(doc, BUCKET).unwrap_or_else(|e| panic!("doc {i} should parse: {e}"));
        assert_eq!(p.text(), *doc, "doc {i}: text must be stored verbatim");
        assert!(p.statement_count() >= 1);
    }
    let p = parse(docs[1]);
    assert_eq!((p.id(), p.version(), p.statement_count()), (Some("p1"), Some("2008-10-17"), 2));
}

#[test]
fn is_public_documents() {
    let doc = |principal: &str, effect: &str, cond: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"{effect}","Principal":{principal},"Action":"s3:GetObject",
                "Resource":"arn:aws:s3:::photos/*","Condition":{cond}}}]}}"#
        )
    };
    // (principal, effect, condition, expected is_public)
    let cases: &[(&str, &str, &str, bool)] = &[
        (r#""*""#, "Allow", "{}", true),
        (r#"{"AWS":"*"}"#, "Allow", "{}", true),
        (r#"{"AWS":["AKIABOB","*"]}"#, "Allow", "{}", true),
        (r#""*""#, "Deny", "{}", false),
        (r#"{"AWS":"AKIABOB"}"#, "Allow", "{}", false),
        (r#"{"CanonicalUser":"b2b2"}"#, "Allow", "{}", false),
        (r#""*""#, "Allow", r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#, false),
        (r#""*""#, "Allow", r#"{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","0.0.0.0/0"]}}"#, true),
        (r#""*""#, "Allow", r#"{"IpAddress":{"aws:SourceIp":"::/0"}}"#, true),
        (r#""*""#, "Allow", r#"{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#, true),
        (r#""*""#, "Allow", r#"{"IpAddressIfExists":{"aws:SourceIp":"10.0.0.0/8"}}"#, true),
        (r#""*""#, "Allow", r#"{"StringEquals":{"aws:SourceVpc":"vpc-123"}}"#, false),
        (r#""*""#, "Allow", r#"{"StringLike":{"aws:SourceVpc":"vpc-*"}}"#, true),
        (r#""*""#, "Allow", r#"{"StringNotEquals":{"aws:SourceVpc":"vpc-123"}}"#, true),
        (r#""*""#, "Allow", r#"{"StringEqualsIfExists":{"aws:SourceVpc":"vpc-123"}}"#, true),
        (r#""*""#, "Allow", r#"{"StringLike":{"aws:userid":"AROAEXAMPLE:*"}}"#, false),
        (r#""*""#, "Allow", r#"{"StringLike":{"aws:userid":"*:alice"}}"#, true),
        (r#""*""#, "Allow", r#"{"StringEquals":{"aws:username":"alice"}}"#, false),
        (r#""*""#, "Allow", r#"{"StringEquals":{"aws:username":"${aws:username}"}}"#, true),
        (r#""*""#, "Allow", r#"{"ArnEquals":{"aws:SourceArn":"arn:aws:sns:us-east-1:123456789012:t"}}"#, false),
        (r#""*""#, "Allow", r#"{"StringEquals":{"AWS:PrincipalAccount":"123456789012"}}"#, false),
        (r#""*""#, "Allow", r#"{"Bool":{"aws:SecureTransport":"true"}}"#, true),
        (r#""*""#, "Allow", r#"{"StringLike":{"s3:prefix":"public/*"}}"#, true),
    ];
    for (i, (principal, effect, cond, want)) in cases.iter().enumerate() {
        let p = parse(&doc(principal, effect, cond));
        assert_eq!(p.is_public(), *want, "case {i}: {principal} {effect} {cond}");
    }
    // One public statement among private ones makes the policy public.
    let mixed = r#"{"Statement":[
        {"Effect":"Allow","Principal":{"AWS":"AKIABOB"},"Action":"s3:*","Resource":"arn:aws:s3:::photos/*"},
        {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/pub/*"}]}"#;
    assert!(parse(mixed).is_public());
    let private = r#"{"Statement":[
        {"Effect":"Allow","Principal":{"AWS":"AKIABOB"},"Action":"s3:*","Resource":"arn:aws:s3:::photos/*"},
        {"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/pub/*"}]}"#;
    assert!(!parse(private).is_public());
}

#[test]
fn adversarial_documents_are_rejected_without_panicking() {
    let deep_array = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let deep_object = format!("{}1{}", r#"{"a":"#.repeat(2000), "}".repeat(2000));
    let deep_condition = format!(
        r#"{{"Statement":{{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::photos","Condition":{{"StringEquals":{{"k":{}1{}}}}}}}}}"#,
        "[".repeat(3000),
        "]".repeat(3000)
    );
    let docs: Vec<String> = vec![
        String::new(),
        "null".into(),
        "\"*\"".into(),
        "1e999999".into(),
        deep_array,
        deep_object,
        deep_condition,
        r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:\ud800","Resource":"arn:aws:s3:::photos"}}"#.into(),
        r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:Gé*","Resource":"arn:aws:s3:::photos"}}"#.into(),
        r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::phötos"}}"#.into(),
        r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::photos","Condition":{"ForAnyValue:é":{"k":"v"}}}}"#.into(),
        r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::photos","Condition":{"éIfExists":{"k":"v"}}}}"#.into(),
        r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::photos","Condition":{"DateEquals":{"k":"99999999999999999999999"}}}}"#.into(),
        r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::photos","Condition":{"NumericEquals":{"k":"1e400"}}}}"#.into(),
        r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::photos","Condition":{"IpAddress":{"k":"1.2.3.4/-1"}}}}"#.into(),
        r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::photos","Condition":{"IpAddress":{"k":"1.2.3.4/"}}}}"#.into(),
        r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::photos","Condition":{"IpAddress":{"k":"1.2.3.4/0032"}}}}"#.into(),
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::photos"},null]}"#.into(),
        "{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"s3:*\",\"Resource\":\"arn:aws:s3:::photos\"}}\u{0}".into(),
    ];
    for (i, doc) in docs.iter().enumerate() {
        let r = std::panic::catch_unwind(|| Policy::parse(doc, BUCKET));
        match r {
            Ok(Err(_)) => {}
            Ok(Ok(_)) => panic!("case {i}: should be rejected"),
            Err(_) => panic!("case {i}: parse panicked"),
        }
    }
}

#[test]
fn mutated_documents_never_panic() {
    let base = r#"{"Version":"2012-10-17","Statement":[{"Sid":"x","Effect":"Allow","Principal":{"AWS":["*","arn:aws:iam::1:user/a"]},
        "Action":["s3:Get*","s3:ListBucket"],"Resource":["arn:aws:s3:::photos","arn:aws:s3:::photos/${aws:username}/*"],
        "Condition":{"ForAnyValue:StringLike":{"s3:prefix":["a*","${aws:userid, 'q'}"]},"IpAddressIfExists":{"aws:SourceIp":"::1/128"},
        "DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"},"ArnLike":{"aws:SourceArn":"arn:*:*:*:*:*"}}}]}"#;
    let who = alice();
    let pairs = [
        ("s3:prefix", "aé"),
        ("aws:SourceIp", "::1"),
        ("aws:CurrentTime", "2029-12-31T00:00:00Z"),
        ("aws:SourceArn", "arn:a:b:c:d:e:f"),
    ];
    let conditions = conds(&pairs);
    let mut evaluated_ok = 0;
    let mut check = |doc: &str| {
        if let Ok(p) = Policy::parse(doc, BUCKET) {
            for action in ["s3:GetObject", "s3:ListBucket", "", "s3:é*"] {
                for resource in [BUCKET_ARN.to_string(), obj("alice/x"), obj("é?*"), String::new()] {
                    for principal in [None, Some(&who)] {
                        let req = RequestContext { action, resource: &resource, principal, conditions: &conditions };
                        let _ = p.evaluate(&req);
                    }
                }
            }
            let _ = p.is_public();
            evaluated_ok += 1;
        }
    };
    // Every prefix (truncation) of the document.
    for (cut, _) in base.char_indices() {
        check(&base[..cut]);
    }
    check(base);
    // Deterministic single-byte mutations (only those that stay valid UTF-8).
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let replacements = b"*?${}[]\":,\\0aZ/- ";
    for _ in 0..3000 {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let mut bytes = base.as_bytes().to_vec();
        let pos = (seed >> 33) as usize % bytes.len();
        bytes[pos] = replacements[(seed >> 17) as usize % replacements.len()];
        if let Ok(s) = String::from_utf8(bytes) {
            check(&s);
        }
    }
    // The unmutated document and some mutations must have parsed, so evaluation really ran.
    assert!(evaluated_ok > 10, "only {evaluated_ok} documents parsed");
    let p = parse(base);
    assert_eq!(
        decide(
            &p,
            "s3:GetObject",
            &obj("alice/x"),
            Some(&who),
            &[("s3:prefix", "abc"), ("aws:CurrentTime", "2029-01-01T00:00:00Z"), ("aws:SourceArn", "arn:a:b:c:d:e")]
        ),
        Decision::Allow
    );
}

#[test]
fn pathological_wildcards_are_fast_and_correct() {
    let pattern = format!("arn:aws:s3:::photos/{}b", "*a".repeat(40));
    let p = parse(&format!(
        r#"{{"Statement":{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"{pattern}"}}}}"#
    ));
    let long_a = "a".repeat(5000);
    let start = std::time::Instant::now();
    assert_eq!(decide(&p, "s3:GetObject", &obj(&long_a), None, &[]), Decision::NoMatch);
    assert_eq!(decide(&p, "s3:GetObject", &obj(&format!("{long_a}b")), None, &[]), Decision::Allow);
    assert!(start.elapsed() < std::time::Duration::from_secs(5), "wildcard matching too slow");
}

#[test]
fn helpers() {
    // Date formats.
    let jan1 = Some(1_767_225_600i128 * 1_000_000_000);
    let dates: &[(&str, Option<i128>)] = &[
        ("2026-01-01T00:00:00Z", jan1),
        ("2026-01-01T01:00:00+01:00", jan1),
        ("2026-01-01", jan1),
        ("20260101T000000Z", jan1),
        ("2026-01-01T00:00:00", jan1),
        ("1767225600", jan1),
        ("-1", Some(-1_000_000_000)),
        ("2026-13-01", None),
        ("", None),
        ("soon", None),
    ];
    for (s, want) in dates {
        assert_eq!(parse_date(s), *want, "date {s:?}");
    }
    // CIDR parsing and containment.
    let cidrs: &[(&str, &str, Option<bool>)] = &[
        ("10.0.0.0/8", "10.255.0.1", Some(true)),
        ("10.0.0.0/8", "11.0.0.1", Some(false)),
        ("10.1.2.3/8", "10.9.9.9", Some(true)), // host bits are ignored
        ("0.0.0.0/0", "1.2.3.4", Some(true)),
        ("1.2.3.4/32", "1.2.3.5", Some(false)),
        ("fe80::/10", "fe80::1", Some(true)),
        ("fe80::/10", "fec0::1", Some(false)),
        ("::/0", "2001:db8::1", Some(true)),
        ("::/0", "1.2.3.4", Some(false)),
        ("1.2.3.4/33", "1.2.3.4", None),
        ("1.2.3", "1.2.3.4", None),
        ("/8", "1.2.3.4", None),
    ];
    for (cidr, ip, want) in cidrs {
        let got = Cidr::parse(cidr).map(|c| c.contains(ip.parse().unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]))));
        assert_eq!(got, *want, "{cidr} contains {ip}");
    }
    // The action table: well-formed, no duplicates, covers what the request path needs.
    let mut seen = std::collections::BTreeSet::new();
    for a in S3_ACTIONS {
        assert!(a.starts_with("s3:") && a.len() > 3, "{a}");
        assert!(seen.insert(a.to_ascii_lowercase()), "duplicate {a}");
    }
    for a in [
        "s3:ListBucket",
        "s3:PutObject",
        "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts",
        "s3:ListBucketMultipartUploads",
        "s3:GetObjectAcl",
        "s3:PutObjectAcl",
        "s3:GetBucketAcl",
        "s3:PutBucketAcl",
        "s3:GetBucketPolicy",
        "s3:PutBucketPolicy",
        "s3:DeleteBucketPolicy",
        "s3:GetBucketPolicyStatus",
        "s3:DeleteObject",
        "s3:DeleteBucket",
        "s3:CreateBucket",
        "s3:ListAllMyBuckets",
        "s3:GetBucketLocation",
        "s3:GetObjectTagging",
        "s3:PutObjectTagging",
        "s3:DeleteObjectTagging",
        "s3:GetBucketVersioning",
        "s3:GetObjectVersion",
        "s3:ListBucketVersions",
    ] {
        assert!(is_known_action(a), "{a} missing from S3_ACTIONS");
    }
    assert!(!is_known_action("s3:GetObjekt"));
    // Cairn's own actions: known, and out of reach of `s3:` patterns.
    for a in super::CAIRN_ACTIONS {
        assert!(a.starts_with("cairn:") && is_known_action(a) && seen.insert(a.to_ascii_lowercase()), "{a}");
    }
    let s3_all = super::action::ActionPattern::parse("s3:*").unwrap();
    assert!(!s3_all.matches("cairn:getasset"));
    assert!(super::action::ActionPattern::parse("cairn:*Asset").is_ok());
    assert!(super::action::ActionPattern::parse("cairn:GetAset").is_err());
    // Case-insensitive condition lookup, exact key preferred.
    let m = conds(&[("AWS:SourceIp", "1.1.1.1"), ("aws:sourceip", "2.2.2.2")]);
    let req = RequestContext { action: "s3:GetObject", resource: BUCKET_ARN, principal: None, conditions: &m };
    assert_eq!(req.condition_values("aws:sourceip"), Some(&["2.2.2.2".to_string()][..]));
    assert_eq!(req.condition_values("AWS:SOURCEIP").map(|v| v.len()), Some(1));
    assert_eq!(req.condition_values("aws:SourceVpc"), None);
    assert_eq!(PolicyError("boom".into()).to_string(), "boom");
}
