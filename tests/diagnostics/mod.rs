//! Shared by the tests of invalid files: run `shopwatch validate`, and check that a diagnostic
//! `file:line:column: message` (with its hint) is printed and that its location is where the
//! offending text is in the file, independently of the tool.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `shopwatch validate FILES...` from the repository root.
pub fn validate(files: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shopwatch"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("validate")
        .args(files)
        .output()
        .expect("run shopwatch validate")
}

pub fn manifest_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// The text of `source` from 1-based `line` and `column` on, columns counted in characters.
pub fn text_at(source: &str, line: usize, column: usize) -> String {
    source
        .lines()
        .nth(line - 1)
        .map(|text| text.chars().skip(column - 1).collect())
        .unwrap_or_default()
}

/// Checks that `stderr` has the diagnostic `file:location: message` (with its hint) and that
/// `location` is where `at` is in the file; returns what is wrong.
pub fn check_diagnostic(
    file: &str,
    stderr: &str,
    (location, at, message, hint): (&str, &str, &str, Option<&str>),
) -> Vec<String> {
    let mut problems = Vec::new();
    let (line, column) = location.split_once(':').expect("line:column");
    let (line, column): (usize, usize) = (line.parse().unwrap(), column.parse().unwrap());
    let source = std::fs::read_to_string(manifest_path(file)).expect("read fixture");
    let there = text_at(&source, line, column);
    if !there.starts_with(at) {
        problems.push(format!("{file}:{location} is `{there}` in the file, not `{at}`: the expected location is wrong"));
    }

    let lines: Vec<&str> = stderr.lines().collect();
    let want = format!("{file}:{location}: {message}");
    match lines.iter().position(|l| l.starts_with(&want)) {
        None => problems.push(format!("stderr lacks `{want}`")),
        Some(i) => {
            let next = lines.get(i + 1).copied().unwrap_or("");
            match (hint, next.strip_prefix("  hint: ")) {
                (Some(hint), Some(got)) if got.contains(hint) => {}
                (Some(hint), _) => problems.push(format!(
                    "{file}:{location}: wanted hint containing `{hint}`, got `{next}`"
                )),
                (None, Some(got)) => {
                    problems.push(format!("{file}:{location}: wanted no hint, got `{got}`"))
                }
                (None, None) => {}
            }
        }
    }
    problems
}

/// Runs `shopwatch validate` on `file`, which has exactly one mistake, reported in
/// `reported_file` (the file itself, or a journey it names) as `expectation` says: exit 2,
/// nothing on stdout, one diagnostic. Returns what is wrong.
pub fn check_one_error(
    file: &str,
    reported_file: &str,
    expectation: (&str, &str, &str, Option<&str>),
) -> Vec<String> {
    let mut problems = Vec::new();
    let output = validate(&[file]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.code() != Some(2) {
        problems.push(format!(
            "{file}: exit {:?}, wanted 2; stderr:\n{stderr}",
            output.status.code()
        ));
    }
    if !output.stdout.is_empty() {
        problems.push(format!(
            "{file}: stdout should be empty: {}",
            String::from_utf8_lossy(&output.stdout)
        ));
    }
    let reported = stderr
        .lines()
        .filter(|l| !l.starts_with("  hint: "))
        .count();
    if reported != 1 {
        problems.push(format!(
            "{file}: {reported} errors reported, wanted exactly one:\n{stderr}"
        ));
    }
    problems.extend(check_diagnostic(reported_file, &stderr, expectation));
    problems
}
