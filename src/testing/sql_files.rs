//! SQL fixture files: the tables of statements under `tests/fixtures/sql/` that some unit
//! tests are, read by [`cases`].
//!
//! The format (each file repeats it at its top):
//! - A case is a block of lines; blank lines separate cases.
//! - A block's leading `--` lines are notes about the case (a block of notes only, such as
//!   the file's header, is no case).
//! - The statement is the block's lines from the first line that is not a note up to the first
//!   expectation line, joined with `\n` (a `--` comment in the middle of a statement stays in
//!   it). A statement that begins with a comment, spans a blank line or is blank stays inline
//!   in its test.
//! - Expectation lines are `-- key: value`; the keys a file may use are the ones its test
//!   passes to [`cases`], so a misspelt key fails the test instead of being ignored. A key may
//!   repeat (e.g. one `-- access:` line per access, in order; none means no access).
//!
//! A failing case names its file, line and statement (`SqlCase`'s `Display`).

use std::fmt;
use std::path::PathBuf;

/// One statement of a fixture file and what its test expects of it.
#[derive(Debug, Clone)]
pub(crate) struct SqlCase {
    /// `file:line` of the statement's first line.
    pub(crate) at: String,
    /// The statement text.
    pub(crate) sql: String,
    expect: Vec<(String, String)>,
}

impl SqlCase {
    /// The value of `key`, which the case must give exactly once.
    pub(crate) fn one(&self, key: &str) -> &str {
        match self.all(key)[..] {
            [v] => v,
            ref vs => panic!(
                "{}: expected one `-- {key}:` line, found {}",
                self.at,
                vs.len()
            ),
        }
    }

    /// Every value of `key`, in file order (empty when the case gives none).
    pub(crate) fn all(&self, key: &str) -> Vec<&str> {
        self.expect
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

impl fmt::Display for SqlCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.sql)
    }
}

/// The cases of `tests/fixtures/sql/<file>`, whose expectation lines may use only `keys`.
/// Panics on a malformed file, an unknown key, or a file without cases.
pub(crate) fn cases(file: &str, keys: &[&str]) -> Vec<SqlCase> {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests/fixtures/sql", file]
        .iter()
        .collect();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: cannot read the fixture: {e}", path.display()));
    let cases = parse(file, &text, keys);
    assert!(!cases.is_empty(), "{file}: no cases");
    cases
}

/// `-- key: value` → `(key, value)`, for a lower-case key of letters and `_`.
fn expectation(line: &str) -> Option<(&str, &str)> {
    let (key, value) = line.strip_prefix("-- ")?.split_once(':')?;
    let is_key = !key.is_empty() && key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    is_key.then(|| (key, value.trim()))
}

fn parse(file: &str, text: &str, keys: &[&str]) -> Vec<SqlCase> {
    let mut cases = Vec::new();
    let mut block: Vec<(usize, &str)> = Vec::new();
    let lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    for (no, line) in lines.chain([(0, "")]) {
        if !line.trim().is_empty() {
            block.push((no, line));
            continue;
        }
        let mut rest = block
            .drain(..)
            .skip_while(|(_, l)| l.starts_with("--"))
            .peekable();
        let Some(&(first, _)) = rest.peek() else {
            continue;
        };
        let at = format!("{file}:{first}");
        let mut sql = Vec::new();
        let mut expect = Vec::new();
        for (no, l) in rest {
            match expectation(l) {
                Some((key, value)) => {
                    assert!(
                        keys.contains(&key),
                        "{file}:{no}: unknown key `{key}` (this file takes {keys:?})"
                    );
                    expect.push((key.to_string(), value.to_string()));
                }
                None if expect.is_empty() => sql.push(l),
                None => panic!("{file}:{no}: statement text after the expectation lines"),
            }
        }
        cases.push(SqlCase {
            at,
            sql: sql.join("\n"),
            expect,
        });
    }
    cases
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "-- header\n-- format\n\n\
                        -- a note\nSELECT 1\n-- trailing comment\nFROM t\n-- kind: SELECT\n\
                        -- access: read a\n-- access: read b\n\n\
                        SHOW TABLES\n";

    #[test]
    fn blocks_are_cases_notes_are_skipped_and_keys_repeat() {
        let cases = parse("f.sql", TEXT, &["kind", "access"]);
        assert_eq!(cases.len(), 2);
        assert_eq!(cases[0].at, "f.sql:5");
        assert_eq!(cases[0].sql, "SELECT 1\n-- trailing comment\nFROM t");
        assert_eq!(cases[0].one("kind"), "SELECT");
        assert_eq!(cases[0].all("access"), ["read a", "read b"]);
        assert_eq!(cases[1].sql, "SHOW TABLES");
        assert!(cases[1].all("access").is_empty());
    }

    #[test]
    #[should_panic(expected = "unknown key `kind`")]
    fn an_unknown_key_is_an_error() {
        parse("f.sql", TEXT, &["access"]);
    }

    #[test]
    #[should_panic(expected = "statement text after the expectation lines")]
    fn text_after_the_expectations_is_an_error() {
        parse("f.sql", "SELECT 1\n-- code: x\nSELECT 2\n", &["code"]);
    }
}
