//! The grammar of principal ids, shared by everything that writes or names one: role bindings
//! (`bindings.csv`, the iam/v2 API) and API keys (`sqlgate api-key create`).
//!
//! A principal id is `User:` followed by 1 to [`MAX_ID_LEN`] characters, each an ASCII letter
//! or digit or one of `. _ - @ + : / |`. That covers what Confluent and this gateway use
//! (`User:u-abc123`, `User:sa-ci`, `User:pool-dev`, group mappings `User:group-x`, e-mail style
//! `User:alice@example.com`) and the identity claims of common issuers (`auth0|5f…`,
//! `repo:org/app:ref:refs/heads/main`), and it excludes what would make a binding ambiguous
//! in a file or a review: spaces and control characters, the `,` and `#` of `bindings.csv`,
//! quotes, `*` (which reads as a wildcard), and non-ASCII letters that look like ASCII ones.
//!
//! `Group:` principals (Confluent Platform) do not exist here: groups reach a decision only
//! through an identity pool, whose principal is `User:<pool id>`.
//!
//! This module only checks text; it does not authenticate or authorize anything.

/// The prefix of every principal id.
pub const USER_PREFIX: &str = "User:";

/// Longest id after the prefix: longer than any id Confluent issues or an issuer's `sub`
/// in practice, short enough to keep lines and audit records readable.
pub const MAX_ID_LEN: usize = 255;

/// Punctuation allowed in an id besides ASCII letters and digits.
const PUNCTUATION: &str = "._-@+:/|";

/// Why a principal id is not well formed; the message says what the grammar is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("principal `{shown}` is not well formed: {why}")]
pub struct InvalidPrincipal {
    /// The refused text, with control characters replaced and cut to a readable length.
    shown: String,
    /// What is wrong with it.
    why: String,
}

/// Checks that `id` is a well-formed principal id (see the module doc).
///
/// ```
/// use sqlgate::auth::principal_id::check;
/// assert!(check("User:sa-ci").is_ok());
/// assert!(check("User:alice@example.com").is_ok());
/// assert!(check("User:a b").is_err());
/// assert!(check("Group:developers").is_err());
/// ```
pub fn check(id: &str) -> Result<(), InvalidPrincipal> {
    let fail = |why: String| {
        Err(InvalidPrincipal {
            shown: super::untrusted(id),
            why,
        })
    };
    let Some(name) = id.strip_prefix(USER_PREFIX) else {
        if id.starts_with("Group:") {
            return fail(format!(
                "groups are not principals here; bind the identity pool the group maps to \
                 (`{USER_PREFIX}pool-…`)"
            ));
        }
        return fail(format!("it must be `{USER_PREFIX}<id>`"));
    };
    if name.is_empty() {
        return fail(format!("nothing follows `{USER_PREFIX}`"));
    }
    if name.chars().count() > MAX_ID_LEN {
        return fail(format!(
            "the id after `{USER_PREFIX}` is longer than {MAX_ID_LEN} characters"
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || PUNCTUATION.contains(*c)))
    {
        let c = if c.is_control() || c.is_whitespace() {
            format!("{:?}", c)
        } else {
            format!("`{c}`")
        };
        return fail(format!(
            "{c} is not allowed; after `{USER_PREFIX}` use ASCII letters, digits and `{PUNCTUATION}`"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_the_project_and_confluent_use_are_well_formed() {
        for ok in [
            "User:pool-dev",
            "User:pool-admin",
            "User:sa-ci",
            "User:u-abc123",
            "User:group-x1",
            "User:alice",
            "User:42",
            "User:alice@example.com",
            "User:auth0|5f1a",
            "User:repo:org/app:ref:refs/heads/main",
            "User:first.last+tag",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
        assert!(check(&format!("User:{}", "a".repeat(MAX_ID_LEN))).is_ok());
    }

    #[test]
    fn malformed_ids_are_refused_saying_why() {
        let cases = [
            ("", "it must be `User:<id>`"),
            ("sa-ci", "it must be `User:<id>`"),
            ("user:sa-ci", "it must be `User:<id>`"),
            ("User:", "nothing follows"),
            ("User:a b", "' ' is not allowed"),
            ("User:a\tb", "'\\t' is not allowed"),
            ("User:a\nb", "'\\n' is not allowed"),
            ("User:a,b", "`,` is not allowed"),
            ("User:a#b", "`#` is not allowed"),
            ("User:a*", "`*` is not allowed"),
            ("User:\"a\"", "`\"` is not allowed"),
            ("User:аlice", "`а` is not allowed"), // Cyrillic а
            ("Group:developers", "groups are not principals here"),
        ];
        for (bad, want) in cases {
            let e = check(bad).unwrap_err().to_string();
            assert!(e.contains(want), "{bad:?}: {e}");
        }
        let long = format!("User:{}", "a".repeat(MAX_ID_LEN + 1));
        assert!(
            check(&long)
                .unwrap_err()
                .to_string()
                .contains("longer than 255")
        );
        // The message never carries control characters of the input.
        let e = check("User:a\u{1b}[31mb").unwrap_err().to_string();
        assert!(!e.contains('\u{1b}'), "{e:?}");
    }
}
