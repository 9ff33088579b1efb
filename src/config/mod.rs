//! Configuration files: parse with serde_yaml (structure, unknown keys, with line and column),
//! then validate into typed values, collecting every error with its location.

pub mod diagnostic;
pub mod format;
pub mod locate;
pub mod validate;

use crate::journey::model::Journey;
use diagnostic::{did_you_mean, Diagnostic, Diagnostics};
use locate::{LocationIndex, Location};
use std::path::Path;

/// Reads and validates one journey file.
pub fn load_journey(file: &Path) -> Result<Journey, Diagnostics> {
    let source = std::fs::read_to_string(file).map_err(|e| {
        Diagnostics(vec![Diagnostic::new(
            file,
            Location { line: 1, column: 1 },
            format!("cannot read journey file: {e}"),
        )])
    })?;
    parse_journey(file, &source)
}

/// Parses and validates journey YAML `source`, naming `file` in errors.
pub fn parse_journey(file: &Path, source: &str) -> Result<Journey, Diagnostics> {
    let raw: format::JourneyFile =
        serde_yaml::from_str(source).map_err(|e| Diagnostics(vec![serde_diagnostic(file, &e)]))?;
    let index = LocationIndex::new(source);
    validate::validate(file, raw, &index).map_err(Diagnostics)
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
    // serde_yaml appends " at line L column C" and prefixes "path: "; both are said otherwise.
    let text = match text.rfind(" at line ") {
        Some(cut) => text[..cut].to_string(),
        None => text,
    };
    let (path, message) = match text.split_once(": ") {
        Some((path, rest)) if !path.contains(' ') => (Some(path.to_string()), rest.to_string()),
        _ => (None, text.clone()),
    };
    let is_action = path.as_deref().is_some_and(|p| p.ends_with(']') && p.contains(".do["));
    let mut diagnostic = Diagnostic::new(file, location, rephrase(&message, is_action));
    if let Some(path) = &path {
        diagnostic.message.push_str(&format!(" (at {path})"));
    }
    if let Some(hint) = unknown_name_hint(&message) {
        diagnostic = diagnostic.with_hint(hint);
    }
    diagnostic
}

fn rephrase(message: &str, is_action: bool) -> String {
    let message = match message.split_once(", expected") {
        Some((head, _)) if head.starts_with("unknown ") => head.to_string(),
        _ => message.to_string(),
    };
    let message = if is_action {
        message.replace("unknown variant", "unknown action")
    } else {
        message
    };
    message.replace("unknown field", "unknown key")
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
        None => Some(format!("expected one of {}", candidates.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", "))),
    }
}
