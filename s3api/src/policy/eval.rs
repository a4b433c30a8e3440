//! Statement matching, the Deny > Allow > NoMatch decision, and the "is public" test.

use super::condition::{Base, CondValue, Condition, SetQualifier};
use super::document::{Effect, PrincipalSpec, Statement};
use super::pattern::wildcard_match;
use super::{Decision, Principal, RequestContext};

pub(crate) fn evaluate(statements: &[Statement], req: &RequestContext<'_>) -> Decision {
    evaluate_why(statements, req).0
}

/// [`evaluate`], and the index of the statement that decided: the Deny that matched,
/// else the first Allow that did.
pub(crate) fn evaluate_why(statements: &[Statement], req: &RequestContext<'_>) -> (Decision, Option<usize>) {
    let action = req.action.to_lowercase();
    let vars = |name: &str| variable(req, name);
    let mut allowed = None;
    for (i, st) in statements.iter().enumerate() {
        if allowed.is_some() && st.effect == Effect::Allow {
            continue;
        }
        if statement_matches(st, req, &action, &vars) {
            match st.effect {
                Effect::Deny => return (Decision::Deny, Some(i)),
                Effect::Allow => allowed = Some(i),
            }
        }
    }
    match allowed {
        Some(i) => (Decision::Allow, Some(i)),
        None => (Decision::NoMatch, None),
    }
}

/// The value of a policy variable: a single-valued request condition key, else (for
/// `aws:username` / `aws:userid`) the principal's name / canonical id.
fn variable(req: &RequestContext<'_>, name: &str) -> Option<String> {
    match req.condition_values(name) {
        Some([value]) => return Some(value.clone()),
        Some([_, _, ..]) => return None, // multi-valued keys cannot be used as variables
        Some([]) | None => {}
    }
    let p = req.principal?;
    if name.eq_ignore_ascii_case("aws:username") {
        Some(p.name.clone())
    } else if name.eq_ignore_ascii_case("aws:userid") {
        Some(p.canonical_id.clone())
    } else {
        None
    }
}

fn statement_matches(
    st: &Statement,
    req: &RequestContext<'_>,
    action_lower: &str,
    vars: &dyn Fn(&str) -> Option<String>,
) -> bool {
    if !principal_matches(&st.principal, req.principal) {
        return false;
    }
    if st.actions.iter().any(|a| a.matches(action_lower)) == st.not_action {
        return false;
    }
    let mut resource_hit = false;
    for r in &st.resources {
        // An unresolvable variable makes the statement not apply.
        let Some(toks) = r.resolve(vars) else { return false };
        resource_hit = resource_hit || wildcard_match(&toks, req.resource);
    }
    if resource_hit == st.not_resource {
        return false;
    }
    st.conditions.iter().all(|c| c.evaluate(req, vars) == Some(true))
}

fn principal_matches(spec: &PrincipalSpec, who: Option<&Principal>) -> bool {
    let (aws, canonical) = match spec {
        PrincipalSpec::Everyone => return true,
        PrincipalSpec::Ids { aws, canonical } => (aws, canonical),
    };
    if aws.iter().any(|a| a == "*") {
        return true;
    }
    let Some(p) = who else { return false };
    aws.iter().any(|id| aws_id_matches(id, p)) || canonical.contains(&p.canonical_id)
}

/// `{"AWS": id}` forms: access key id, canonical id, `arn:aws:iam::<any>:user/<path/>name`,
/// `arn:aws:iam::<canonical id>:root`.
fn aws_id_matches(id: &str, p: &Principal) -> bool {
    if id == p.access_key_id || id == p.canonical_id {
        return true;
    }
    let Some(rest) = id.strip_prefix("arn:aws:iam::") else { return false };
    let Some((account, resource)) = rest.split_once(':') else { return false };
    if resource == "root" {
        return account == p.canonical_id;
    }
    match resource.strip_prefix("user/") {
        Some(user) => user.rsplit('/').next() == Some(p.name.as_str()),
        None => false,
    }
}

/// Condition keys that, compared for equality with a fixed value, pin the caller down.
const FIXING_KEYS: &[&str] = &[
    "aws:sourcearn",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:sourceowner",
    "aws:sourceaccount",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:principalorgid",
    "aws:userid",
    "aws:username",
    "s3:x-amz-server-side-encryption-aws-kms-key-id",
];

pub(crate) fn is_public(statements: &[Statement]) -> bool {
    statements
        .iter()
        .any(|st| st.effect == Effect::Allow && st.principal.is_everyone() && !st.conditions.iter().any(restricts))
}

/// True if `c` limits a statement to a fixed set of callers (see [`super::Policy::is_public`]).
fn restricts(c: &Condition) -> bool {
    let op = c.op;
    if op.negated || op.if_exists || op.qualifier == Some(SetQualifier::ForAllValues) {
        return false;
    }
    let key = c.key.to_ascii_lowercase();
    if key == "aws:sourceip" {
        return op.base == Base::IpAddress
            && c.values.iter().all(|v| matches!(v, CondValue::Cidr(cidr) if cidr.prefix() > 0));
    }
    if !FIXING_KEYS.contains(&key.as_str()) {
        return false;
    }
    let string_op = matches!(op.base, Base::StringEquals | Base::StringEqualsIgnoreCase | Base::StringLike | Base::Arn);
    let wildcards_literal = matches!(op.base, Base::StringEquals | Base::StringEqualsIgnoreCase);
    string_op
        && c.values.iter().all(|v| match v {
            CondValue::Text(t) if t.has_variables() => false,
            CondValue::Text(t) if wildcards_literal || !t.has_wildcards() => true,
            // aws:userid "AROLEID:*" (any session of one role) still counts as fixed.
            CondValue::Text(t) => key == "aws:userid" && t.is_fixed_prefix_then_star(':'),
            _ => false,
        })
}
