//! Structure errors: what serde-saphyr found wrong with a file's shape (syntax, an unknown or
//! missing key, a value of the wrong type), as data: where, the path of the value it is about
//! (`steps[0].do[1]`), and the problem. Sections choose their words and hints from these
//! fields ([`StructureError::diagnostic`] gives the common wording); nothing rewrites messages.

use super::diagnostic::{did_you_mean, Diagnostic};
use super::locate::{Location, LocationIndex};
use std::path::Path;

/// One structure error, located, with the path of the value it is about.
#[derive(Debug, Clone, PartialEq)]
pub struct StructureError {
    pub location: Location,
    /// The map or value the problem is in (`steps[0].do[1]`); empty at the top level, and for
    /// a syntax error.
    pub path: String,
    pub problem: Problem,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    /// The YAML itself does not parse: the parser's words, and the `{` or `[` left open
    /// where it stopped, if one was.
    Syntax {
        message: String,
        open: Option<(Location, char)>,
    },
    /// A key the map at `path` does not have.
    UnknownKey {
        key: String,
        expected: Vec<&'static str>,
    },
    /// A name that is not one of a fixed set (an action, a probe or sink kind, a browser).
    UnknownName {
        name: String,
        expected: Vec<&'static str>,
    },
    MissingKey(&'static str),
    /// `found` as serde says it (`string "many"`, `map`), `expected` in a YAML author's words.
    WrongType {
        found: String,
        expected: String,
    },
    DuplicateKey(String),
    /// Anything else, in its own words (our own visitors' messages among them).
    Other(String),
}

impl StructureError {
    /// Reads `error` (from parsing `source`, indexed as `index`).
    pub fn new(error: &serde_saphyr::Error, source: &str, index: &LocationIndex) -> Self {
        use serde_saphyr::Error as E;
        let mut location = error
            .location()
            .filter(|l| l.line() > 0)
            .map(|l| Location {
                line: l.line() as usize,
                column: l.column() as usize,
            })
            .unwrap_or(Location { line: 1, column: 1 });
        let value_path = || index.path_at(location).unwrap_or_default().to_string();
        let (path, problem) = match error {
            E::SerdeUnknownField {
                field, expected, ..
            } => (
                index.parent_of_key_at(location, field),
                Problem::UnknownKey {
                    key: field.clone(),
                    expected: expected.clone(),
                },
            ),
            E::SerdeUnknownVariant {
                variant, expected, ..
            } => (
                index
                    .key_path_at(location)
                    .map(|_| index.parent_of_key_at(location, variant))
                    .unwrap_or_else(value_path),
                Problem::UnknownName {
                    name: variant.clone(),
                    expected: expected.clone(),
                },
            ),
            // Said at the last key of the map that lacks one: the map is the key's parent.
            E::SerdeMissingField { field, .. } => {
                let path = match index.key_path_at(location) {
                    Some(_) => index.parent_of_key_at(location, ""),
                    None => value_path(),
                };
                location = index.find(&path);
                (path, Problem::MissingKey(field))
            }
            E::SerdeInvalidType {
                unexpected,
                expected,
                ..
            }
            | E::SerdeInvalidValue {
                unexpected,
                expected,
                ..
            } => (
                value_path(),
                Problem::WrongType {
                    found: unexpected.clone(),
                    expected: author_words(expected),
                },
            ),
            E::InvalidScalar { ty, .. } => (
                value_path(),
                Problem::WrongType {
                    found: describe_at(source, location),
                    expected: author_words(ty),
                },
            ),
            E::Unexpected { expected, .. } => (
                value_path(),
                Problem::WrongType {
                    found: describe_at(source, location),
                    expected: author_words(expected),
                },
            ),
            E::DuplicateMappingKey { key, .. } => {
                let key = key.clone().unwrap_or_else(|| "?".into());
                (
                    index.parent_of_key_at(location, &key),
                    Problem::DuplicateKey(key),
                )
            }
            E::ExternalMessage { msg, .. } => {
                let open = index.unclosed().and_then(|open| {
                    let ch = char_at(source, open.at)?;
                    matches!(ch, '{' | '[').then_some((open.at, ch))
                });
                (
                    String::new(),
                    Problem::Syntax {
                        message: syntax_words(msg),
                        open,
                    },
                )
            }
            E::Message { msg, .. } => (value_path(), Problem::Other(msg.clone())),
            E::MultipleDocuments { .. } => (
                String::new(),
                Problem::Other(
                    "a second YAML document (after `---`) starts here: a file holds one".into(),
                ),
            ),
            E::Eof { .. } if !has_content(source) => (
                {
                    location = Location { line: 1, column: 1 };
                    String::new()
                },
                Problem::Other("the file holds no YAML: it is empty, or only comments".into()),
            ),
            E::Eof { .. } => (
                String::new(),
                Problem::Other("the file ends where a value was expected".into()),
            ),
            other => (
                value_path(),
                Problem::Other(without_place(&other.without_snippet().render())),
            ),
        };
        StructureError {
            location,
            path,
            problem,
        }
    }

    /// The message and hint every section starts from. `name` is what an unknown name is
    /// called here (`action`, `probe kind`); the path closes the message, `(at steps[0])`.
    pub fn diagnostic(&self, file: &Path, name: &str) -> Diagnostic {
        let message = match &self.problem {
            Problem::Syntax { message, .. } => message.clone(),
            Problem::UnknownKey { key, .. } => format!("unknown key `{key}`"),
            Problem::UnknownName { name: word, .. } => format!("unknown {name} `{word}`"),
            Problem::MissingKey(key) => format!("missing key `{key}`"),
            Problem::WrongType { found, expected } => {
                format!("invalid type: {found}, expected {expected}")
            }
            Problem::DuplicateKey(key) => format!("duplicate key `{key}`"),
            Problem::Other(text) => text.clone(),
        };
        let mut diagnostic = Diagnostic::new(file, self.location, message);
        if !self.path.is_empty() {
            diagnostic.message.push_str(&format!(" (at {})", self.path));
        }
        let hint = match &self.problem {
            Problem::UnknownKey { key, expected } => Some(name_hint(key, expected)),
            Problem::UnknownName {
                name: word,
                expected,
            } => Some(name_hint(word, expected)),
            Problem::Syntax { message, open } => syntax_hint(message, *open),
            _ => None,
        };
        match hint {
            Some(hint) => diagnostic.with_hint(hint),
            None => diagnostic,
        }
    }
}

/// The parser's words, without the location it adds (the diagnostic has it): `... at line 5
/// column 8`; a place it names beside it ("while scanning a simple key at line 2 column 1") is
/// where that started.
fn syntax_words(text: &str) -> String {
    let text = text.trim();
    let text = match text.rfind(" at line ") {
        Some(at) if text[at..].contains("column") && !text[..at].contains(" at line ") => {
            &text[..at]
        }
        _ => text,
    };
    text.replacen(" at line ", " that starts at line ", 1)
}

/// Whether `source` holds anything but blank lines and comments.
fn has_content(source: &str) -> bool {
    source
        .lines()
        .map(str::trim)
        .any(|line| !line.is_empty() && !line.starts_with('#'))
}

/// `text` without the place it ends with (`... at line 3, column 8`): the diagnostic has it.
fn without_place(text: &str) -> String {
    let text = text.trim_end();
    if let Some(at) = text.rfind(" at line ") {
        let place = &text[at + " at line ".len()..];
        let is_place = place
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ',' | ' ') || "column".contains(c));
        if is_place && place.contains("column") {
            return text[..at].to_string();
        }
    }
    text.to_string()
}

/// What usually causes the YAML syntax errors whose wording does not say.
fn syntax_hint(message: &str, open: Option<(Location, char)>) -> Option<String> {
    if let Some((at, ch)) = open {
        let close = if ch == '{' { '}' } else { ']' };
        return Some(format!(
            "the `{ch}` at line {} column {} is not closed: end it with `{close}` on its line, or write it as a block without brackets",
            at.line, at.column
        ));
    }
    let hint = if message.starts_with("mapping values are not allowed") {
        "a `key:` where none can start: check this line's indentation against the lines above, and quote a value that contains `: `"
    } else if message.starts_with("found character that cannot start any token")
        || message.contains("tabs disallowed")
    {
        "indent with spaces, not tabs; quote a value that starts with `@`, `` ` `` or `%`"
    } else {
        return None;
    };
    Some(hint.to_string())
}

/// The character at `location` in `source`.
fn char_at(source: &str, location: Location) -> Option<char> {
    source
        .lines()
        .nth(location.line.checked_sub(1)?)?
        .chars()
        .nth(location.column.checked_sub(1)?)
}

/// For an unknown key or name: the closest expected one, or the list.
fn name_hint(word: &str, expected: &[&str]) -> String {
    match did_you_mean(word, expected.iter().copied()) {
        Some(close) => format!("did you mean `{close}`?"),
        None if expected.is_empty() => "this map takes no keys".to_string(),
        None => format!(
            "expected one of {}",
            expected
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// What a YAML author writes for what serde or the parser expected (`u32`, `struct StepFile`,
/// `sequence start`).
fn author_words(expected: &str) -> String {
    let words = match expected {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" | "i8" | "i16" | "i32" | "i64" | "i128"
        | "isize" => "a whole number",
        "f32" | "f64" | "floating point" => "a number",
        "bool" | "a boolean" => "`true` or `false`",
        "sequence start" | "a sequence" => "a list",
        "mapping start" | "a map" => "a map",
        "string scalar" | "scalar" | "a string" => "a string",
        other if other.starts_with("struct ") => "a map",
        other if other.starts_with("a sequence") => {
            return other.replacen("a sequence", "a list", 1)
        }
        other => other,
    };
    words.to_string()
}

/// The value that starts at `location` in `source`, as serde names an unexpected value:
/// `string "many"`, `integer `42``, `map`, `sequence`.
fn describe_at(source: &str, location: Location) -> String {
    let Some(line) = source.lines().nth(location.line.saturating_sub(1)) else {
        return "value".to_string();
    };
    let rest: String = line
        .chars()
        .skip(location.column.saturating_sub(1))
        .collect();
    let rest = rest.trim_end();
    match rest.chars().next() {
        None => "unit value".to_string(),
        Some('{') => "map".to_string(),
        Some('[') => "sequence".to_string(),
        Some('-') if rest.len() == 1 || rest[1..].starts_with(' ') => "sequence".to_string(),
        Some('|' | '>') => "string".to_string(),
        Some(quote @ ('"' | '\'')) => {
            let inner = &rest[1..];
            let end = inner.find(quote).unwrap_or(inner.len());
            format!("string {:?}", &inner[..end])
        }
        Some(_) => {
            let end = [" #", ", ", ",", "]", "}"]
                .iter()
                .filter_map(|stop| rest.find(stop))
                .min()
                .unwrap_or(rest.len());
            let plain = rest[..end].trim_end();
            if plain.ends_with(':') || plain.contains(": ") {
                return "map".to_string();
            }
            describe_plain(plain)
        }
    }
}

/// A plain scalar by the YAML 1.2 core schema, in serde's words.
fn describe_plain(text: &str) -> String {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => "unit value".to_string(),
        "true" | "True" | "TRUE" | "false" | "False" | "FALSE" => {
            format!("boolean `{}`", text.to_ascii_lowercase())
        }
        _ if text.parse::<i64>().is_ok() || text.parse::<u64>().is_ok() => {
            format!("integer `{text}`")
        }
        _ if text.parse::<f64>().is_ok() && text.chars().any(|c| c.is_ascii_digit()) => {
            format!("floating point `{text}`")
        }
        _ => format!("string {text:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_the_value_at_a_place_as_serde_would() {
        let src = "a: many\nb: 42\nc: {x: 1}\nd: [1]\ne: \"q\"\nf: 1.5\ng: true\nh:\n  - x\n";
        let at = |line, column| describe_at(src, Location { line, column });
        assert_eq!(at(1, 4), "string \"many\"");
        assert_eq!(at(2, 4), "integer `42`");
        assert_eq!(at(3, 4), "map");
        assert_eq!(at(4, 4), "sequence");
        assert_eq!(at(5, 4), "string \"q\"");
        assert_eq!(at(6, 4), "floating point `1.5`");
        assert_eq!(at(7, 4), "boolean `true`");
        assert_eq!(at(9, 3), "sequence");
        assert_eq!(at(1, 1), "map");
    }

    #[test]
    fn says_what_an_author_writes_for_rust_types() {
        assert_eq!(author_words("u32"), "a whole number");
        assert_eq!(author_words("struct StepFile"), "a map");
        assert_eq!(author_words("sequence start"), "a list");
        assert_eq!(
            author_words("a duration such as `5s`"),
            "a duration such as `5s`"
        );
    }
}
