//! Parsing and validation of a bucket-policy JSON document.

use serde_json::{Map, Value};

use super::action::ActionPattern;
use super::condition::{Condition, Operator};
use super::pattern::{Template, tokens, wildcard_match};
use super::{MAX_POLICY_SIZE, Policy, PolicyError};

const ARN_PREFIX: &str = "arn:aws:s3:::";
const VERSION_2012: &str = "2012-10-17";
const VERSION_2008: &str = "2008-10-17";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Effect {
    Allow,
    Deny,
}

/// The `Principal` element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PrincipalSpec {
    /// `"Principal": "*"`.
    Everyone,
    Ids {
        /// `{"AWS": [...]}` entries (may include `*`).
        aws: Vec<String>,
        /// `{"CanonicalUser": [...]}` entries.
        canonical: Vec<String>,
    },
}

impl PrincipalSpec {
    /// True for `*` and `{"AWS": "*"}` (alone or among other entries).
    pub(crate) fn is_everyone(&self) -> bool {
        match self {
            PrincipalSpec::Everyone => true,
            PrincipalSpec::Ids { aws, .. } => aws.iter().any(|a| a == "*"),
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Statement {
    /// Names the statement in audit records (`#<index>` when it has no Sid).
    pub(crate) sid: Option<String>,
    pub(crate) effect: Effect,
    pub(crate) principal: PrincipalSpec,
    /// True for `NotAction`.
    pub(crate) not_action: bool,
    pub(crate) actions: Vec<ActionPattern>,
    /// True for `NotResource`.
    pub(crate) not_resource: bool,
    pub(crate) resources: Vec<Template>,
    pub(crate) conditions: Vec<Condition>,
}

fn err(msg: impl Into<String>) -> PolicyError {
    PolicyError(msg.into())
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A string or a non-empty array of strings.
fn string_list(v: &Value, what: &str) -> Result<Vec<String>, PolicyError> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) if items.is_empty() => Err(err(format!("{what} must not be empty"))),
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.clone()),
                other => Err(err(format!("{what} entries must be strings, found {}", type_name(other)))),
            })
            .collect(),
        other => Err(err(format!("{what} must be a string or an array of strings, found {}", type_name(other)))),
    }
}

pub(crate) fn parse(json: &str, bucket: &str) -> Result<Policy, PolicyError> {
    if json.len() > MAX_POLICY_SIZE {
        return Err(err(format!(
            "Policy exceeds the maximum allowed document size ({} bytes > {MAX_POLICY_SIZE})",
            json.len()
        )));
    }
    let body = json.strip_prefix('\u{feff}').unwrap_or(json);
    let doc: Value = serde_json::from_str(body).map_err(|e| err(format!("Policies must be valid JSON: {e}")))?;
    let Value::Object(doc) = doc else {
        return Err(err(format!("Policies must be a JSON object, found {}", type_name(&doc))));
    };
    for key in doc.keys() {
        if !matches!(key.as_str(), "Version" | "Id" | "Statement") {
            return Err(err(format!("Unknown field {key} in policy")));
        }
    }
    let version = match doc.get("Version") {
        None => None,
        Some(Value::String(v)) if v == VERSION_2012 || v == VERSION_2008 => Some(v.clone()),
        Some(v) => {
            return Err(err(format!(
                "Policy Version must be \"{VERSION_2012}\" or \"{VERSION_2008}\", found {}",
                json_short(v)
            )));
        }
    };
    let id = match doc.get("Id") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(v) => return Err(err(format!("Policy Id must be a string, found {}", type_name(v)))),
    };
    let variables = version.as_deref() == Some(VERSION_2012);
    let raw_statements: Vec<&Value> = match doc.get("Statement") {
        None => return Err(err("Missing required field Statement")),
        Some(Value::Array(items)) if items.is_empty() => return Err(err("Statement must not be empty")),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(v @ Value::Object(_)) => vec![v],
        Some(v) => {
            return Err(err(format!("Statement must be an object or an array of objects, found {}", type_name(v))));
        }
    };
    let mut statements = Vec::with_capacity(raw_statements.len());
    for (i, raw) in raw_statements.into_iter().enumerate() {
        let Value::Object(obj) = raw else {
            return Err(err(format!("Statement[{i}] must be an object, found {}", type_name(raw))));
        };
        statements.push(parse_statement(i, obj, bucket, variables)?);
    }
    Ok(Policy { text: json.to_string(), id, version, statements })
}

fn json_short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 64 { format!("{}...", s.chars().take(64).collect::<String>()) } else { s }
}

fn parse_statement(
    i: usize,
    obj: &Map<String, Value>,
    bucket: &str,
    variables: bool,
) -> Result<Statement, PolicyError> {
    for key in obj.keys() {
        if !matches!(
            key.as_str(),
            "Sid"
                | "Effect"
                | "Principal"
                | "NotPrincipal"
                | "Action"
                | "NotAction"
                | "Resource"
                | "NotResource"
                | "Condition"
        ) {
            return Err(err(format!("Statement[{i}]: unknown field {key}")));
        }
    }
    let sid = match obj.get("Sid") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(v) => return Err(err(format!("Statement[{i}].Sid must be a string, found {}", type_name(v)))),
    };
    let effect = match obj.get("Effect") {
        Some(Value::String(s)) if s == "Allow" => Effect::Allow,
        Some(Value::String(s)) if s == "Deny" => Effect::Deny,
        None => return Err(err(format!("Statement[{i}]: missing required field Effect"))),
        Some(_) => return Err(err(format!("Statement[{i}].Effect must be \"Allow\" or \"Deny\""))),
    };
    if obj.contains_key("NotPrincipal") {
        return Err(err(format!("Statement[{i}]: NotPrincipal is not supported; use Principal")));
    }
    let principal = match obj.get("Principal") {
        Some(p) => parse_principal(i, p)?,
        None => return Err(err(format!("Statement[{i}]: missing required field Principal"))),
    };

    let (not_action, raw_actions) = match (obj.get("Action"), obj.get("NotAction")) {
        (Some(a), None) => (false, a),
        (None, Some(a)) => (true, a),
        (Some(_), Some(_)) => {
            return Err(err(format!("Statement[{i}]: Action and NotAction cannot both be present")));
        }
        (None, None) => return Err(err(format!("Statement[{i}]: missing required field Action or NotAction"))),
    };
    let action_field = if not_action { "NotAction" } else { "Action" };
    let actions = string_list(raw_actions, &format!("Statement[{i}].{action_field}"))?
        .iter()
        .map(|a| ActionPattern::parse(a).map_err(|e| err(format!("Policy has invalid action: Statement[{i}]: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;

    let (not_resource, raw_resources) = match (obj.get("Resource"), obj.get("NotResource")) {
        (Some(r), None) => (false, r),
        (None, Some(r)) => (true, r),
        (Some(_), Some(_)) => {
            return Err(err(format!("Statement[{i}]: Resource and NotResource cannot both be present")));
        }
        (None, None) => {
            return Err(err(format!("Statement[{i}]: missing required field Resource or NotResource")));
        }
    };
    let resource_field = if not_resource { "NotResource" } else { "Resource" };
    let resources = string_list(raw_resources, &format!("Statement[{i}].{resource_field}"))?
        .iter()
        .map(|r| parse_resource(r, bucket, variables).ok_or_else(|| invalid_resource(i, r, bucket)))
        .collect::<Result<Vec<_>, _>>()?;

    let conditions = match obj.get("Condition") {
        None => Vec::new(),
        Some(Value::Object(block)) => parse_conditions(i, block, variables)?,
        Some(v) => return Err(err(format!("Statement[{i}].Condition must be an object, found {}", type_name(v)))),
    };
    Ok(Statement { sid, effect, principal, not_action, actions, not_resource, resources, conditions })
}

fn invalid_resource(i: usize, r: &str, bucket: &str) -> PolicyError {
    err(format!(
        "Policy has invalid resource: Statement[{i}]: {r:?} (expected arn:aws:s3:::{bucket} or arn:aws:s3:::{bucket}/<key>)"
    ))
}

/// Accepts `arn:aws:s3:::<bucket>[/<key pattern>]` where the bucket part is this bucket or a
/// wildcard pattern (without variables) that matches it.
fn parse_resource(value: &str, bucket: &str, variables: bool) -> Option<Template> {
    let rest = value.strip_prefix(ARN_PREFIX)?;
    let bucket_part = rest.split_once('/').map_or(rest, |(b, _)| b);
    if bucket.is_empty() || bucket_part.is_empty() || bucket_part.contains('$') {
        return None;
    }
    let ok = bucket_part == bucket || wildcard_match(&tokens(bucket_part, true), bucket);
    ok.then(|| Template::parse(value, true, variables))
}

fn parse_principal(i: usize, p: &Value) -> Result<PrincipalSpec, PolicyError> {
    let invalid = |detail: String| err(format!("Invalid principal in policy: Statement[{i}].Principal {detail}"));
    match p {
        Value::String(s) if s == "*" => Ok(PrincipalSpec::Everyone),
        Value::String(s) => Err(invalid(format!("{s:?}: a string principal must be \"*\""))),
        Value::Object(map) if map.is_empty() => Err(invalid("must not be empty".to_string())),
        Value::Object(map) => {
            let mut aws = Vec::new();
            let mut canonical = Vec::new();
            for (kind, value) in map {
                let what = format!("Statement[{i}].Principal.{kind}");
                let ids =
                    string_list(value, &what).map_err(|e| err(format!("Invalid principal in policy: {}", e.0)))?;
                if ids.iter().any(|id| id.is_empty()) {
                    return Err(invalid(format!("{kind} entries must not be empty")));
                }
                match kind.as_str() {
                    "AWS" => aws.extend(ids),
                    "CanonicalUser" => canonical.extend(ids),
                    // Accepted for compatibility; Cairn has no such principals, so they never match.
                    "Service" | "Federated" => {}
                    other => return Err(invalid(format!("has unknown principal type {other}"))),
                }
            }
            Ok(PrincipalSpec::Ids { aws, canonical })
        }
        other => Err(invalid(format!("must be \"*\" or an object, found {}", type_name(other)))),
    }
}

fn parse_conditions(i: usize, block: &Map<String, Value>, variables: bool) -> Result<Vec<Condition>, PolicyError> {
    let mut out = Vec::new();
    for (op_name, keys) in block {
        let op = Operator::parse(op_name)
            .ok_or_else(|| err(format!("Statement[{i}].Condition: unknown condition operator {op_name}")))?;
        let Value::Object(keys) = keys else {
            return Err(err(format!(
                "Statement[{i}].Condition.{op_name} must be an object of condition keys, found {}",
                type_name(keys)
            )));
        };
        for (key, raw) in keys {
            let c = Condition::parse(op_name, op, key, raw, variables)
                .map_err(|e| err(format!("Statement[{i}].Condition: {e}")))?;
            out.push(c);
        }
    }
    Ok(out)
}
