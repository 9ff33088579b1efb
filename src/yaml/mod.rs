//! The shared layer under every configuration section: YAML parsed with serde_yaml (structure,
//! unknown keys, with line and column), a location index of every value, located diagnostics,
//! the [`check::Checker`] that collects them, and the value shapes sections share. Every section
//! (journeys, probes, alerting, artifacts, metrics) is parsed and validated beside its
//! component, on top of this; nothing here knows a section.

pub mod check;
pub mod diagnostic;
pub mod fields;
pub mod locate;
pub mod one_key;
pub mod scalars;
pub mod secret;

use diagnostic::{did_you_mean, Diagnostic, Diagnostics};
use locate::{Location, LocationIndex};
use std::path::Path;

/// The deepest nesting of mappings and lists a file may have. Real ones stay under 10; parsing
/// and locating cost grows with depth times size, so a deeply nested file stalls the monitor.
pub const MAX_DEPTH: usize = 32;

/// Reads a config file (at most [`crate::capped::CONFIG_FILE`]); the error names it as a
/// `what` file, located at 1:1.
pub fn read_source(file: &Path, what: &str) -> Result<String, Diagnostics> {
    use crate::capped;
    capped::read_to_string(file, capped::CONFIG_FILE).map_err(|e| {
        let message = match e {
            capped::ReadError::TooLarge { cap } => format!(
                "this {what} file holds more than {}, the most a {what} file may be: is it the file you meant?",
                capped::size(cap)
            ),
            e => format!("cannot read {what} file: {e}"),
        };
        Diagnostics(vec![Diagnostic::new(
            file,
            Location { line: 1, column: 1 },
            message,
        )])
    })
}

/// Refuses a document nested deeper than [`MAX_DEPTH`], before the costly passes; located at
/// the first mapping or list too deep. Syntax errors are left to the parser that reports them.
fn check_depth(file: &Path, source: &str) -> Result<(), Diagnostics> {
    use yaml_rust2::parser::{Event, Parser};
    let mut parser = Parser::new_from_str(source);
    let mut depth = 0usize;
    loop {
        match parser.next_token() {
            Ok((Event::StreamEnd, _)) | Err(_) => return Ok(()),
            Ok((Event::MappingStart(..) | Event::SequenceStart(..), mark)) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    let location = Location {
                        line: mark.line(),
                        column: mark.col() + 1,
                    };
                    return Err(Diagnostics(vec![Diagnostic::new(
                        file,
                        location,
                        format!("nested more than {MAX_DEPTH} levels deep"),
                    )
                    .with_hint(
                        "no shopwatch setting nests this deep: check the indentation and brackets",
                    )]));
                }
            }
            Ok((Event::MappingEnd | Event::SequenceEnd, _)) => depth = depth.saturating_sub(1),
            Ok(_) => {}
        }
    }
}

/// Parses `source` into `T` (structure only), with the location index for validation and the
/// duplicate-key errors found so far. serde keeps the last of two equal keys in a map (`vars:`,
/// `headers:`) silently and reports a repeated struct key at the start of its mapping; the
/// index has each repeat's own place.
pub fn parse_structure<T: serde::de::DeserializeOwned>(
    file: &Path,
    source: &str,
    serde_error: fn(&Path, &serde_yaml::Error) -> Diagnostic,
) -> Result<(T, LocationIndex, Vec<Diagnostic>), Diagnostics> {
    // Text that did not come through `read_source` (a test, an embedding program) is held to
    // the same size: parsing cost grows with it.
    if source.len() as u64 > crate::capped::CONFIG_FILE {
        return Err(Diagnostics(vec![Diagnostic::new(
            file,
            Location { line: 1, column: 1 },
            format!(
                "this text holds more than {}, the most a configuration may be",
                crate::capped::size(crate::capped::CONFIG_FILE)
            ),
        )]));
    }
    check_depth(file, source)?;
    let index = LocationIndex::new(source);
    let mut errors: Vec<Diagnostic> = index
        .duplicates()
        .iter()
        .map(|(path, location)| duplicate_diagnostic(file, &index, path, *location))
        .collect();
    match serde_yaml::from_str(source) {
        Ok(raw) => Ok((raw, index, errors)),
        Err(e) => {
            if errors.is_empty() || !e.to_string().contains("duplicate field") {
                errors.push(serde_error(file, &e));
            }
            Err(Diagnostics(errors))
        }
    }
}

/// A validation result, failed also when `earlier` holds errors.
pub fn with_earlier<T>(
    mut earlier: Vec<Diagnostic>,
    validated: Result<T, Vec<Diagnostic>>,
) -> Result<T, Diagnostics> {
    match validated {
        Ok(value) if earlier.is_empty() => Ok(value),
        Ok(_) => Err(Diagnostics(earlier)),
        Err(more) => {
            earlier.extend(more);
            Err(Diagnostics(earlier))
        }
    }
}

fn duplicate_diagnostic(
    file: &Path,
    index: &LocationIndex,
    path: &str,
    location: Location,
) -> Diagnostic {
    let (parent, key) = match path.rsplit_once('.') {
        Some((parent, key)) => (Some(parent), key),
        None => (None, path),
    };
    let mut message = format!("duplicate key `{key}`");
    if let Some(parent) = parent {
        message.push_str(&format!(" (at {parent})"));
    }
    let first = index.find_key(path);
    Diagnostic::new(file, location, message).with_hint(format!(
        "`{key}` is already given at line {} column {}: keep one",
        first.line, first.column
    ))
}

/// Turns a serde_yaml error into a located diagnostic with a "did you mean" where one helps.
pub fn serde_diagnostic(file: &Path, error: &serde_yaml::Error) -> Diagnostic {
    let location = error
        .location()
        .map(|l| Location {
            line: l.line(),
            column: l.column(),
        })
        .unwrap_or(Location { line: 1, column: 1 });
    let text = error.to_string();
    // serde_yaml says " at line L column C" after the problem, which the diagnostic says already;
    // a YAML syntax error may go on with ", while parsing X at line L column C": where X started.
    let text = text.replacen(
        &format!(" at line {} column {}", location.line, location.column),
        "",
        1,
    );
    let text = match text.split_once(", while ") {
        Some((problem, context)) => format!(
            "{problem} while {}",
            context.replacen(" at line ", " that starts at line ", 1)
        ),
        None => text,
    };
    let (path, message) = match text.split_once(": ") {
        Some((path, rest)) if !path.contains(' ') => (Some(path.to_string()), rest.to_string()),
        _ => (None, text.clone()),
    };
    let is_action = path
        .as_deref()
        .is_some_and(|p| p.ends_with(']') && p.contains(".do["));
    let mut diagnostic = Diagnostic::new(file, location, rephrase(&message, is_action));
    if let Some(path) = &path {
        diagnostic.message.push_str(&format!(" (at {path})"));
    }
    if let Some(hint) = unknown_name_hint(&message).or_else(|| syntax_hint(&message)) {
        diagnostic = diagnostic.with_hint(hint);
    }
    diagnostic
}

/// What usually causes the YAML syntax errors whose wording does not say.
fn syntax_hint(message: &str) -> Option<String> {
    let hint = if message.starts_with("mapping values are not allowed") {
        "a `key:` where none can start: check this line's indentation against the lines above, and quote a value that contains `: `"
    } else if message.starts_with("found character that cannot start any token") {
        "indent with spaces, not tabs; quote a value that starts with `@`, `` ` `` or `%`"
    } else {
        return None;
    };
    Some(hint.to_string())
}

fn rephrase(message: &str, is_action: bool) -> String {
    let message = match message.split_once(", expected") {
        Some((head, _)) if head.starts_with("unknown ") => head.to_string(),
        _ => message.to_string(),
    };
    let mut message = if is_action {
        message.replace("unknown variant", "unknown action")
    } else {
        message
    };
    // Say what a YAML author writes, not the Rust type: "expected struct StepFile", "expected u32".
    if let Some(at) = message.find("expected struct ") {
        let rest = &message[at + "expected struct ".len()..];
        let end = rest
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(rest.len());
        message = format!("{}expected a map{}", &message[..at], &rest[end..]);
    }
    for number in [
        "expected u16",
        "expected u32",
        "expected u64",
        "expected usize",
    ] {
        message = message.replace(number, "expected a whole number");
    }
    message
        .replace("expected a sequence", "expected a list")
        .replace("unknown field", "unknown key")
        .replace("missing field", "missing key")
        .replace("duplicate field", "duplicate key")
}

/// For "unknown field `x`, expected one of `a`, `b`": the closest name, or the list.
fn unknown_name_hint(message: &str) -> Option<String> {
    let rest = message
        .strip_prefix("unknown field `")
        .or_else(|| message.strip_prefix("unknown variant `"))?;
    let (word, expected) = rest.split_once("`, expected ")?;
    let candidates: Vec<&str> = expected
        .split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, name)| name)
        .collect();
    match did_you_mean(word, candidates.iter().copied()) {
        Some(close) => Some(format!("did you mean `{close}`?")),
        None => Some(format!(
            "expected one of {}",
            candidates
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}
