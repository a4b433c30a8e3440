//! Wildcard patterns (`*`, `?`) and policy-variable templates (`${aws:username}`).
//!
//! A [`Template`] is parsed once when the policy is stored and resolved per request. Text that a
//! policy variable expands to is always *literal*: a user name containing `*` can never widen a
//! pattern. The escapes `${*}`, `${?}` and `${$}` stand for a literal `*`, `?` and `$`.
//! A variable may carry a default, `${aws:username, 'nobody'}`, used when the key is missing.

/// One element of a resolved pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tok {
    /// A literal character.
    Ch(char),
    /// `*`: any run of characters, including none.
    Star,
    /// `?`: exactly one character.
    One,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Tok(Tok),
    Var { name: String, default: Option<String> },
}

/// A pattern or plain string that may contain policy variables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Template {
    pieces: Vec<Piece>,
}

impl Template {
    /// Parses `s`. With `wildcards`, `*` and `?` are wildcards, otherwise literal characters.
    /// With `variables`, `${...}` sequences are policy variables, otherwise literal text.
    pub(crate) fn parse(s: &str, wildcards: bool, variables: bool) -> Template {
        let mut pieces = Vec::with_capacity(s.len());
        let mut rest = s;
        while !rest.is_empty() {
            let end = if variables && rest.starts_with("${") { rest.find('}') } else { None };
            if let Some(piece) = end.and_then(|end| parse_variable(rest.get(2..end).unwrap_or_default())) {
                pieces.push(piece);
                rest = end.and_then(|end| rest.get(end + 1..)).unwrap_or_default();
                continue;
            }
            let mut chars = rest.chars();
            let Some(c) = chars.next() else { break };
            pieces.push(Piece::Tok(literal_or_wildcard(c, wildcards)));
            rest = chars.as_str();
        }
        Template { pieces }
    }

    /// True if the template contains a policy variable (not counting `${*}`-style escapes).
    pub(crate) fn has_variables(&self) -> bool {
        self.pieces.iter().any(|p| matches!(p, Piece::Var { .. }))
    }

    /// True if the template contains a `*` or `?` wildcard.
    pub(crate) fn has_wildcards(&self) -> bool {
        self.pieces.iter().any(|p| matches!(p, Piece::Tok(Tok::Star | Tok::One)))
    }

    /// True for `<literal text><sep>*` with a non-empty literal part and no other wildcard or
    /// variable, e.g. `AROAEXAMPLE:*`.
    pub(crate) fn is_fixed_prefix_then_star(&self, sep: char) -> bool {
        match self.pieces.as_slice() {
            [head @ .., Piece::Tok(Tok::Ch(c)), Piece::Tok(Tok::Star)] if *c == sep => {
                !head.is_empty() && head.iter().all(|p| matches!(p, Piece::Tok(Tok::Ch(_))))
            }
            _ => false,
        }
    }

    /// Substitutes variables through `lookup`; `None` if some variable has neither a value nor
    /// a default.
    pub(crate) fn resolve(&self, lookup: &dyn Fn(&str) -> Option<String>) -> Option<Vec<Tok>> {
        let mut out = Vec::with_capacity(self.pieces.len());
        for piece in &self.pieces {
            match piece {
                Piece::Tok(t) => out.push(*t),
                Piece::Var { name, default } => {
                    let value = lookup(name).or_else(|| default.clone())?;
                    out.extend(value.chars().map(Tok::Ch));
                }
            }
        }
        Some(out)
    }
}

fn literal_or_wildcard(c: char, wildcards: bool) -> Tok {
    match c {
        '*' if wildcards => Tok::Star,
        '?' if wildcards => Tok::One,
        c => Tok::Ch(c),
    }
}

/// Parses the text between `${` and `}`; `None` means "not a variable, keep it literal".
fn parse_variable(inner: &str) -> Option<Piece> {
    match inner {
        "*" => return Some(Piece::Tok(Tok::Ch('*'))),
        "?" => return Some(Piece::Tok(Tok::Ch('?'))),
        "$" => return Some(Piece::Tok(Tok::Ch('$'))),
        _ => {}
    }
    let (name, default) = match inner.split_once(',') {
        Some((name, default)) => {
            let quoted = default.trim().strip_prefix('\'')?.strip_suffix('\'')?;
            (name.trim(), Some(quoted.to_string()))
        }
        None => (inner.trim(), None),
    };
    let valid =
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '/' | '-' | '_' | '.'));
    valid.then(|| Piece::Var { name: name.to_string(), default })
}

/// Tokenizes a string without variables.
pub(crate) fn tokens(s: &str, wildcards: bool) -> Vec<Tok> {
    s.chars().map(|c| literal_or_wildcard(c, wildcards)).collect()
}

/// Joins resolved tokens back into a string (wildcards as `*` / `?`).
pub(crate) fn to_text(toks: &[Tok]) -> String {
    toks.iter()
        .map(|t| match t {
            Tok::Ch(c) => *c,
            Tok::Star => '*',
            Tok::One => '?',
        })
        .collect()
}

/// Matches `text` against `pattern` (case-sensitive). Iterative with single-star backtracking:
/// O(len(pattern) * len(text)) in the worst case, no recursion.
pub(crate) fn wildcard_match(pattern: &[Tok], text: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    wildcard_match_chars(pattern, &text)
}

pub(crate) fn wildcard_match_chars(pattern: &[Tok], text: &[char]) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    // Position of the last `*` seen and the text position it is currently absorbing up to.
    let mut backtrack: Option<(usize, usize)> = None;
    while let Some(&c) = text.get(t) {
        match pattern.get(p) {
            Some(Tok::Star) => {
                backtrack = Some((p, t));
                p += 1;
            }
            Some(Tok::One) => {
                p += 1;
                t += 1;
            }
            Some(Tok::Ch(pc)) if *pc == c => {
                p += 1;
                t += 1;
            }
            _ => match backtrack {
                Some((sp, st)) => {
                    backtrack = Some((sp, st + 1));
                    p = sp + 1;
                    t = st + 1;
                }
                None => return false,
            },
        }
    }
    pattern.get(p..).is_some_and(|rest| rest.iter().all(|t| *t == Tok::Star))
}
