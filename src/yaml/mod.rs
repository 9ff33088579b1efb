//! The shared layer under every configuration section: YAML parsed with serde-saphyr (structure,
//! unknown keys, as located [`structure::StructureError`]s), a location index of every value, located diagnostics,
//! the [`check::Checker`] that collects them, and the value shapes sections share. Every section
//! (journeys, probes, alerting, artifacts, metrics) is parsed and validated beside its
//! component, on top of this; nothing here knows a section.

pub mod check;
pub mod diagnostic;
pub mod env;
pub mod fields;
pub mod locate;
pub mod one_key;
pub mod scalars;
pub mod secret;
pub mod structure;

use diagnostic::{Diagnostic, Diagnostics};
use locate::{Location, LocationIndex};
use std::path::Path;
use structure::StructureError;

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
/// duplicate-key errors found so far. The index reports each repeated key where it repeats,
/// with where it was first given; the parser's own error for the first one is then dropped.
/// `structure_error` words a structure error for its section.
pub fn parse_structure<T: serde::de::DeserializeOwned>(
    file: &Path,
    source: &str,
    structure_error: fn(&Path, &StructureError) -> Diagnostic,
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
    if let Some((count, location)) = index.more_duplicates() {
        errors.push(
            Diagnostic::new(
                file,
                location,
                format!(
                    "{count} more duplicate keys from here on, past the first {}",
                    locate::MAX_DUPLICATES
                ),
            )
            .with_hint(
                "each mapping may give a key once: is this file generated, or pasted twice?",
            ),
        );
    }
    let options = serde_saphyr::options! {
        // YAML 1.2: `yes`, `no`, `on`, `off` are strings (a country code `NO` stays one).
        strict_booleans: true,
        with_snippet: false,
    };
    // After the locations are taken from the text as written; before the values are read.
    let expanded = match env::expand(file, source, |name| std::env::var(name).ok()) {
        Ok(expanded) => expanded,
        Err(more) => {
            errors.extend(more);
            return Err(Diagnostics(errors));
        }
    };
    match serde_saphyr::from_str_with_options(&expanded, options) {
        Ok(raw) => Ok((raw, index, errors)),
        Err(e) => {
            let error = StructureError::new(&e, &expanded, &index);
            let repeated = matches!(error.problem, structure::Problem::DuplicateKey(_));
            if errors.is_empty() || !repeated {
                errors.push(structure_error(file, &error));
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
