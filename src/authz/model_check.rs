//! Checks of `model.conf` that casbin does not make, or makes without saying where.
//!
//! casbin reads a model leniently: an unknown section or key is ignored, a missing section
//! shows only when the enforcer is built (as an error with no file or line) or not at all,
//! and a matcher that never grants anything is accepted. A policy whose model is broken that
//! way would deny or allow the wrong things without a word, so before and after casbin reads
//! it the gateway checks, naming `model.conf` and the line:
//! * the structure: the five known sections, each with its own keys (`r`, `p`, `g`, `e`,
//!   `m`), every `key = value` inside a section; `r` and `p` with three fields (the gateway
//!   asks `(role, resource type, action)` and `roles.csv` `p` lines carry three values);
//!   `[role_definition]` `g` when `roles.csv` has `g` lines;
//! * the meaning, by probing the built enforcer ([`probe`]): every `p` line of `roles.csv`
//!   grants what it says, every `g` line passes on the implied role's permissions, and a role
//!   without lines is granted nothing.
//!
//! It does not interpret the model beyond that; casbin does.

use std::collections::{BTreeSet, HashMap};

use super::policy::{ACTIONS, MODEL_FILE, RESOURCE_TYPES, ROLES_FILE};

/// Where each key of the model is defined (1-based lines), for locating casbin's errors.
#[derive(Debug, Default)]
pub(super) struct ModelLines {
    keys: HashMap<String, usize>,
}

impl ModelLines {
    /// The line of `key` (`r`, `p`, `g`, `e`, `m`), or 0 when it is not defined.
    pub(super) fn of(&self, key: &str) -> usize {
        self.keys.get(key).copied().unwrap_or(0)
    }
}

/// Each section and the key it holds.
const SECTIONS: &[(&str, &str)] = &[
    ("request_definition", "r"),
    ("policy_definition", "p"),
    ("role_definition", "g"),
    ("policy_effect", "e"),
    ("matchers", "m"),
];

fn located(line: usize, msg: &str) -> String {
    if line == 0 {
        format!("{MODEL_FILE}: {msg}")
    } else {
        format!("{MODEL_FILE}:{line}: {msg}")
    }
}

/// Checks the structure of `text` (see the module doc); `uses_g` says whether `roles.csv`
/// has `g` lines. Returns where each key is defined.
pub(super) fn check_structure(
    text: &str,
    uses_g: Option<usize>,
    problems: &mut Vec<String>,
) -> ModelLines {
    let mut lines = ModelLines::default();
    if text.trim().is_empty() {
        let what = if text.is_empty() {
            "is empty (0 bytes)"
        } else {
            "holds only blank lines"
        };
        problems.push(located(
            0,
            &format!("{what}; it must define the casbin model"),
        ));
        return lines;
    }
    let mut section: Option<(&str, &str)> = None;
    // casbin joins a line ending in `\` with the next one.
    let mut continued = false;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        let was_continued = std::mem::replace(&mut continued, line.ends_with('\\'));
        if was_continued || line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = SECTIONS.iter().copied().find(|(s, _)| *s == name);
            if section.is_none() {
                problems.push(located(
                    n,
                    &format!(
                        "unknown section `[{name}]` (sections: {})",
                        SECTIONS
                            .iter()
                            .map(|(s, _)| format!("[{s}]"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            problems.push(located(n, "expected `[section]` or `key = value`"));
            continue;
        };
        let (key, value) = (key.trim(), value.trim().trim_end_matches('\\').trim());
        let Some((name, want)) = section else {
            problems.push(located(n, &format!("`{key}` is outside any known section")));
            continue;
        };
        if key != want {
            problems.push(located(
                n,
                &format!("[{name}] holds `{want} = …`, not `{key}`"),
            ));
            continue;
        }
        if value.is_empty() {
            problems.push(located(n, &format!("`{key}` has no value")));
            continue;
        }
        if let Some(first) = lines.keys.insert(key.to_string(), n) {
            problems.push(located(
                n,
                &format!("`{key}` is defined twice (first on line {first})"),
            ));
            continue;
        }
        if (key == "r" || key == "p") && value.split(',').count() != 3 {
            problems.push(located(
                n,
                &format!(
                    "`{key}` must have three fields (role, resource type, action): the gateway \
                     asks about exactly those"
                ),
            ));
        }
    }
    for (name, key) in SECTIONS {
        if lines.of(key) == 0 && (*key != "g" || uses_g.is_some()) {
            let why = match uses_g {
                Some(g) if *key == "g" => {
                    format!(", which the `g` lines of {ROLES_FILE} (line {g}) need")
                }
                _ => String::new(),
            };
            problems.push(located(0, &format!("no `{key} = …` in [{name}]{why}")));
        }
    }
    lines
}

/// Which file and line a casbin error building the enforcer belongs to.
pub(super) fn locate_casbin_error(e: &casbin::Error, lines: &ModelLines) -> String {
    use casbin::error::ModelError;
    let msg = e.to_string();
    match e {
        casbin::Error::ModelError(m) => {
            let (key, what) = match m {
                ModelError::R(s) => ("r", format!("invalid request definition: {s}")),
                ModelError::P(s) => ("p", format!("invalid policy definition: {s}")),
                ModelError::E(s) => ("e", format!("unsupported effect: {s}")),
                ModelError::M(s) => ("m", format!("the matcher does not compile: {s}")),
                ModelError::Other(s) => ("m", s.clone()),
            };
            located(lines.of(key), &what)
        }
        casbin::Error::RhaiParseError(_) | casbin::Error::RhaiError(_) => located(
            lines.of("m"),
            &format!("the matcher does not compile: {msg}"),
        ),
        casbin::Error::RequestError(_) => located(lines.of("r"), &msg),
        casbin::Error::IoError(_) => located(0, &msg),
        casbin::Error::PolicyError(_)
        | casbin::Error::RbacError(_)
        | casbin::Error::AdapterError(_) => format!("{ROLES_FILE}: {msg}"),
    }
}

/// One line of `roles.csv` as the probe needs it.
#[derive(Debug, Clone)]
pub(super) enum RoleLine {
    /// `p, role, type, action` on this line.
    Permits(usize, String, String, String),
    /// `g, role, implied` on this line.
    Implies(usize, String, String),
}

/// Asks the built enforcer what `roles.csv` says it should answer (see the module doc);
/// a wrong answer or an evaluation error is a problem of the model's matcher or effect.
/// Each role's permissions are asked once (roles × resource types × actions).
pub(super) fn probe(
    permits: &dyn Fn(&str, &str, &str) -> Result<bool, String>,
    roles: &[RoleLine],
    lines: &ModelLines,
    problems: &mut Vec<String>,
) {
    let at = lines.of("m");
    let mut memo: HashMap<String, BTreeSet<(&'static str, &'static str)>> = HashMap::new();
    let mut perms = |role: &str| -> Result<BTreeSet<(&'static str, &'static str)>, String> {
        if let Some(p) = memo.get(role) {
            return Ok(p.clone());
        }
        let mut out = BTreeSet::new();
        for t in RESOURCE_TYPES {
            for a in ACTIONS {
                if permits(role, t, a)? {
                    out.insert((*t, *a));
                }
            }
        }
        memo.insert(role.to_string(), out.clone());
        Ok(out)
    };
    let result = (|| -> Result<Option<String>, String> {
        // A role no line names: nothing is granted.
        if let Some((t, a)) = perms("\u{0}no role")?.into_iter().next() {
            return Ok(Some(format!(
                "the model grants `{a}` on `{t}` to a role that {ROLES_FILE} gives nothing"
            )));
        }
        for line in roles {
            match line {
                RoleLine::Permits(n, role, rtype, action) => {
                    let has = perms(role)?;
                    let missing = RESOURCE_TYPES
                        .iter()
                        .filter(|t| rtype == "*" || rtype == *t)
                        .flat_map(|t| ACTIONS.iter().map(move |a| (*t, *a)))
                        .filter(|(_, a)| action == "*" || action == a)
                        .find(|ta| !has.contains(ta));
                    if let Some((t, a)) = missing {
                        return Ok(Some(format!(
                            "the model does not grant what {ROLES_FILE}:{n} says (`{role}` may `{a}` on `{t}`)"
                        )));
                    }
                }
                RoleLine::Implies(n, role, implied) => {
                    let (lower, upper) = (perms(implied)?, perms(role)?);
                    if let Some((t, a)) = lower.difference(&upper).next() {
                        return Ok(Some(format!(
                            "the model does not pass on implied roles: {ROLES_FILE}:{n} says `{role}` has what `{implied}` has, but `{implied}` may `{a}` on `{t}` and `{role}` may not"
                        )));
                    }
                }
            }
        }
        Ok(None)
    })();
    match result {
        Ok(None) => {}
        Ok(Some(msg)) => problems.push(located(at, &msg)),
        Err(e) => problems.push(located(at, &format!("the matcher fails to evaluate: {e}"))),
    }
}
