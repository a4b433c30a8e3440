//! Condition operators: parsing of the `Condition` block and evaluation against request values.
//!
//! Semantics (as documented by AWS for IAM policies):
//! * every operator in the block must match, and within one operator every key must match (AND);
//! * within one key, any of the policy values may match (OR); a negated operator (`StringNotEquals`,
//!   `NotIpAddress`, ...) is the negation of its positive form, i.e. "matches none of the values";
//! * a key missing from the request makes positive operators fail and negated operators succeed;
//!   `...IfExists` makes a missing key succeed; `Null` tests for presence (`true` = missing);
//! * without a set qualifier, a multi-valued request key matches a positive operator when any of its
//!   values does. `ForAnyValue:` needs one request value to satisfy the (possibly negated) test and
//!   fails on a missing key; `ForAllValues:` needs every request value to satisfy it and succeeds on
//!   a missing key.

use std::net::IpAddr;

use serde_json::Value;
use time::format_description::well_known::{Iso8601, Rfc3339};
use time::{Date, OffsetDateTime, PrimitiveDateTime};

use super::RequestContext;
use super::pattern::{Template, Tok, to_text, wildcard_match, wildcard_match_chars};

/// The comparison a numeric or date operator performs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn holds(self, ord: Option<std::cmp::Ordering>) -> bool {
        use std::cmp::Ordering::{Equal, Greater, Less};
        matches!(
            (self, ord),
            (Cmp::Eq, Some(Equal))
                | (Cmp::Lt, Some(Less))
                | (Cmp::Le, Some(Less | Equal))
                | (Cmp::Gt, Some(Greater))
                | (Cmp::Ge, Some(Greater | Equal))
        )
    }
}

/// The positive form of an operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Base {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    Numeric(Cmp),
    Date(Cmp),
    Bool,
    /// `BinaryEquals`: compares the base64 text as given.
    Binary,
    IpAddress,
    /// `ArnEquals` and `ArnLike` behave the same (wildcards per ARN component).
    Arn,
    Null,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SetQualifier {
    ForAnyValue,
    ForAllValues,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Operator {
    pub(crate) base: Base,
    pub(crate) negated: bool,
    pub(crate) if_exists: bool,
    pub(crate) qualifier: Option<SetQualifier>,
}

fn strip_prefix_ci<'s>(s: &'s str, prefix: &str) -> Option<&'s str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| s.get(prefix.len()..)).flatten()
}

fn strip_suffix_ci<'s>(s: &'s str, suffix: &str) -> Option<&'s str> {
    let cut = s.len().checked_sub(suffix.len())?;
    let tail = s.get(cut..)?;
    tail.eq_ignore_ascii_case(suffix).then(|| s.get(..cut)).flatten()
}

impl Operator {
    /// Parses an operator name such as `StringLike`, `NotIpAddressIfExists` or
    /// `ForAllValues:StringEquals` (case-insensitive). `None` for unknown operators.
    pub(crate) fn parse(name: &str) -> Option<Operator> {
        let (qualifier, rest) = if let Some(rest) = strip_prefix_ci(name, "ForAnyValue:") {
            (Some(SetQualifier::ForAnyValue), rest)
        } else if let Some(rest) = strip_prefix_ci(name, "ForAllValues:") {
            (Some(SetQualifier::ForAllValues), rest)
        } else {
            (None, name)
        };
        let (rest, if_exists) = match strip_suffix_ci(rest, "IfExists") {
            Some(rest) => (rest, true),
            None => (rest, false),
        };
        let (base, negated) = match rest.to_ascii_lowercase().as_str() {
            "stringequals" => (Base::StringEquals, false),
            "stringnotequals" => (Base::StringEquals, true),
            "stringequalsignorecase" => (Base::StringEqualsIgnoreCase, false),
            "stringnotequalsignorecase" => (Base::StringEqualsIgnoreCase, true),
            "stringlike" => (Base::StringLike, false),
            "stringnotlike" => (Base::StringLike, true),
            "numericequals" => (Base::Numeric(Cmp::Eq), false),
            "numericnotequals" => (Base::Numeric(Cmp::Eq), true),
            "numericlessthan" => (Base::Numeric(Cmp::Lt), false),
            "numericlessthanequals" => (Base::Numeric(Cmp::Le), false),
            "numericgreaterthan" => (Base::Numeric(Cmp::Gt), false),
            "numericgreaterthanequals" => (Base::Numeric(Cmp::Ge), false),
            "dateequals" => (Base::Date(Cmp::Eq), false),
            "datenotequals" => (Base::Date(Cmp::Eq), true),
            "datelessthan" => (Base::Date(Cmp::Lt), false),
            "datelessthanequals" => (Base::Date(Cmp::Le), false),
            "dategreaterthan" => (Base::Date(Cmp::Gt), false),
            "dategreaterthanequals" => (Base::Date(Cmp::Ge), false),
            "bool" => (Base::Bool, false),
            "binaryequals" => (Base::Binary, false),
            "ipaddress" => (Base::IpAddress, false),
            "notipaddress" => (Base::IpAddress, true),
            "arnequals" | "arnlike" => (Base::Arn, false),
            "arnnotequals" | "arnnotlike" => (Base::Arn, true),
            "null" => (Base::Null, false),
            _ => return None,
        };
        if base == Base::Null && (if_exists || qualifier.is_some()) {
            return None;
        }
        Some(Operator { base, negated, if_exists, qualifier })
    }
}

/// An IPv4 or IPv6 network; a bare address is a /32 or /128.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub(crate) fn parse(s: &str) -> Option<Cidr> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok()?,
            Some(_) => return None,
        };
        (prefix <= max).then_some(Cidr { addr, prefix })
    }

    pub(crate) fn prefix(&self) -> u8 {
        self.prefix
    }

    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(a)) => same_prefix32(net.to_bits(), a.to_bits(), self.prefix),
            (IpAddr::V6(net), IpAddr::V6(a)) => same_prefix128(net.to_bits(), a.to_bits(), self.prefix),
            // An IPv4-mapped IPv6 client address (::ffff:a.b.c.d) is matched by IPv4 networks.
            (IpAddr::V4(net), IpAddr::V6(a)) => {
                a.to_ipv4_mapped().is_some_and(|a| same_prefix32(net.to_bits(), a.to_bits(), self.prefix))
            }
            (IpAddr::V6(_), IpAddr::V4(_)) => false,
        }
    }
}

fn same_prefix32(a: u32, b: u32, prefix: u8) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(prefix.min(32))).unwrap_or(0);
    a & mask == b & mask
}

fn same_prefix128(a: u128, b: u128, prefix: u8) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(prefix.min(128))).unwrap_or(0);
    a & mask == b & mask
}

/// Parses a request's IP value (a bare address; a trailing `/len` is ignored).
fn parse_ip(s: &str) -> Option<IpAddr> {
    s.split('/').next().and_then(|a| a.parse().ok())
}

/// Parses a number the way a policy writes it; rejects NaN and infinities.
pub(crate) fn parse_number(s: &str) -> Option<f64> {
    let ok = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'));
    let n: f64 = if ok { s.parse().ok()? } else { return None };
    n.is_finite().then_some(n)
}

/// Parses a date as nanoseconds since the Unix epoch: epoch seconds (`1700000000`), RFC 3339
/// (`2026-11-22T10:00:00Z`), other ISO 8601 forms (`20261122T100000Z`, `2026-11-22T10:00:00`
/// = UTC) or a bare date (`2026-11-22`, midnight UTC).
pub(crate) fn parse_date(s: &str) -> Option<i128> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if !digits.is_empty() && digits.len() <= 18 && digits.bytes().all(|b| b.is_ascii_digit()) {
        let secs: i64 = s.parse().ok()?;
        return Some(i128::from(secs) * 1_000_000_000);
    }
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t.unix_timestamp_nanos());
    }
    if let Ok(t) = OffsetDateTime::parse(s, &Iso8601::DEFAULT) {
        return Some(t.unix_timestamp_nanos());
    }
    if let Ok(t) = PrimitiveDateTime::parse(s, &Iso8601::DEFAULT) {
        return Some(t.assume_utc().unix_timestamp_nanos());
    }
    if let Ok(d) = Date::parse(s, &Iso8601::DEFAULT) {
        return Some(d.midnight().assume_utc().unix_timestamp_nanos());
    }
    None
}

fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// One policy value of a condition, validated for its operator.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum CondValue {
    Text(Template),
    Number(f64),
    Date(i128),
    Bool(bool),
    Cidr(Cidr),
}

/// One `operator: { key: values }` entry of a Condition block.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Condition {
    pub(crate) op: Operator,
    /// The key as written in the policy.
    pub(crate) key: String,
    pub(crate) values: Vec<CondValue>,
}

/// A policy value after variable substitution.
enum Resolved {
    Text(String),
    Pattern(Vec<Tok>),
    Number(f64),
    Date(i128),
    Bool(bool),
    Cidr(Cidr),
}

fn json_scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl Condition {
    /// Validates the values of one key under `op`. `variables` enables `${...}` substitution
    /// (policy Version 2012-10-17) for the string and ARN operators.
    pub(crate) fn parse(
        op_name: &str,
        op: Operator,
        key: &str,
        raw: &Value,
        variables: bool,
    ) -> Result<Condition, String> {
        if key.is_empty() {
            return Err(format!("empty condition key under {op_name}"));
        }
        let raw_values: Vec<String> = match raw {
            Value::Array(items) if items.is_empty() => {
                return Err(format!("condition {op_name} on {key} has no values"));
            }
            Value::Array(items) => items.iter().map(json_scalar).collect::<Option<_>>(),
            v => json_scalar(v).map(|s| vec![s]),
        }
        .ok_or_else(|| format!("condition {op_name} on {key}: values must be strings, numbers or booleans"))?;
        let mut values = Vec::with_capacity(raw_values.len());
        for s in &raw_values {
            let bad = |what: &str| format!("invalid {what} value \"{s}\" for condition {op_name} on {key}");
            let v = match op.base {
                Base::StringEquals | Base::StringEqualsIgnoreCase => {
                    CondValue::Text(Template::parse(s, false, variables))
                }
                Base::StringLike | Base::Arn => CondValue::Text(Template::parse(s, true, variables)),
                Base::Binary => CondValue::Text(Template::parse(s, false, false)),
                Base::Numeric(_) => CondValue::Number(parse_number(s).ok_or_else(|| bad("numeric"))?),
                Base::Date(_) => CondValue::Date(parse_date(s).ok_or_else(|| bad("date"))?),
                Base::Bool | Base::Null => CondValue::Bool(parse_bool(s).ok_or_else(|| bad("boolean"))?),
                Base::IpAddress => CondValue::Cidr(Cidr::parse(s).ok_or_else(|| bad("IP address"))?),
            };
            values.push(v);
        }
        Ok(Condition { op, key: key.to_string(), values })
    }

    /// Evaluates against the request. `None` means a policy variable could not be resolved, which
    /// makes the whole statement not apply.
    pub(crate) fn evaluate(&self, req: &RequestContext<'_>, vars: &dyn Fn(&str) -> Option<String>) -> Option<bool> {
        let request = req.condition_values(&self.key).filter(|v| !v.is_empty());
        if self.op.base == Base::Null {
            let absent = request.is_none();
            return Some(self.values.contains(&CondValue::Bool(absent)));
        }
        let resolved = self.resolve(vars)?;
        let Some(request) = request else {
            return Some(
                self.op.if_exists
                    || match self.op.qualifier {
                        Some(SetQualifier::ForAllValues) => true,
                        Some(SetQualifier::ForAnyValue) => false,
                        None => self.op.negated,
                    },
            );
        };
        let positive = |v: &String| resolved.iter().any(|p| positive_match(self.op.base, p, v));
        let negated = self.op.negated;
        Some(match self.op.qualifier {
            None => request.iter().any(positive) != negated,
            Some(SetQualifier::ForAnyValue) => request.iter().any(|v| positive(v) != negated),
            Some(SetQualifier::ForAllValues) => request.iter().all(|v| positive(v) != negated),
        })
    }

    fn resolve(&self, vars: &dyn Fn(&str) -> Option<String>) -> Option<Vec<Resolved>> {
        self.values
            .iter()
            .map(|v| {
                Some(match v {
                    CondValue::Text(t) => {
                        let toks = t.resolve(vars)?;
                        match self.op.base {
                            Base::StringLike | Base::Arn => Resolved::Pattern(toks),
                            Base::StringEqualsIgnoreCase => Resolved::Text(to_text(&toks).to_lowercase()),
                            _ => Resolved::Text(to_text(&toks)),
                        }
                    }
                    CondValue::Number(n) => Resolved::Number(*n),
                    CondValue::Date(d) => Resolved::Date(*d),
                    CondValue::Bool(b) => Resolved::Bool(*b),
                    CondValue::Cidr(c) => Resolved::Cidr(*c),
                })
            })
            .collect()
    }
}

fn positive_match(base: Base, policy: &Resolved, value: &str) -> bool {
    match (base, policy) {
        (Base::StringEquals | Base::Binary, Resolved::Text(s)) => s == value,
        (Base::StringEqualsIgnoreCase, Resolved::Text(s)) => *s == value.to_lowercase(),
        (Base::StringLike, Resolved::Pattern(p)) => wildcard_match(p, value),
        (Base::Arn, Resolved::Pattern(p)) => arn_match(p, value),
        (Base::Numeric(cmp), Resolved::Number(n)) => parse_number(value).is_some_and(|v| cmp.holds(v.partial_cmp(n))),
        (Base::Date(cmp), Resolved::Date(d)) => parse_date(value).is_some_and(|v| cmp.holds(Some(v.cmp(d)))),
        (Base::Bool, Resolved::Bool(b)) => parse_bool(value) == Some(*b),
        (Base::IpAddress, Resolved::Cidr(c)) => parse_ip(value).is_some_and(|ip| c.contains(ip)),
        _ => false,
    }
}

/// ARN matching: the six colon-separated components are matched separately (the last one, the
/// resource, may itself contain colons), each with `*` / `?` wildcards. A policy value that is not
/// ARN-shaped (e.g. `*`) is matched against the whole string.
fn arn_match(pattern: &[Tok], value: &str) -> bool {
    let parts: Vec<&[Tok]> = pattern.splitn(6, |t| *t == Tok::Ch(':')).collect();
    if parts.len() < 6 {
        return wildcard_match(pattern, value);
    }
    let chars: Vec<char> = value.chars().collect();
    let values: Vec<&[char]> = chars.splitn(6, |c| *c == ':').collect();
    values.len() == 6 && parts.iter().zip(&values).all(|(p, v)| wildcard_match_chars(p, v))
}
