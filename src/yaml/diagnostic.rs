//! Located, human-readable configuration errors.

use super::locate::Location;
use std::fmt;
use std::path::{Path, PathBuf};

/// One problem in a configuration file: where it is, what is wrong, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub location: Location,
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(file: &Path, location: Location, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.to_path_buf(),
            location,
            message: clip_words(&message.into()),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(clip_words(&hint.into()));
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.location.line,
            self.location.column,
            self.message
        )?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// Every problem found in one or more files.
#[derive(Debug, Clone, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, diagnostic) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{diagnostic}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// Characters of one word (a run without spaces) that a message keeps.
const MAX_WORD: usize = 100;
/// Characters a whole message keeps.
const MAX_MESSAGE: usize = 1000;

/// Messages quote the bad value; a megabyte-long value must not make a megabyte of stderr.
/// Long words keep their start, long messages their start; both say how long they were.
fn clip_words(text: &str) -> String {
    if text.len() <= MAX_WORD {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len().min(MAX_MESSAGE + 40));
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        match word.char_indices().nth(MAX_WORD) {
            None => out.push_str(word),
            Some((end, _)) => {
                out.push_str(&word[..end]);
                out.push_str(&format!("…[{} characters]", word.chars().count()));
            }
        }
        if out.chars().count() > MAX_MESSAGE {
            let end = out
                .char_indices()
                .nth(MAX_MESSAGE)
                .map_or(out.len(), |(i, _)| i);
            out.truncate(end);
            out.push_str(&format!("…[{} characters]", text.chars().count()));
            break;
        }
    }
    out
}

/// Names longer than this get no "did you mean": nobody mistypes one, and the edit distance
/// of two long texts needs memory of the product of their lengths (two 100,000-character names
/// in a broken file would take 80 GB).
const MAX_SUGGESTED_LEN: usize = 100;

/// The closest candidate to `word`, if one is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    if word.len() > MAX_SUGGESTED_LEN {
        return None;
    }
    let allowed = |candidate: &str| 2.max(candidate.len() / 3);
    candidates
        .into_iter()
        // The distance is at least the difference in length: skip what cannot be close.
        .filter(|candidate| {
            candidate.len() <= MAX_SUGGESTED_LEN
                && candidate.len().abs_diff(word.len()) <= allowed(candidate)
        })
        .map(|candidate| (strsim::damerau_levenshtein(word, candidate), candidate))
        .filter(|(distance, candidate)| *distance <= allowed(candidate))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_get_no_suggestion_and_cost_nothing() {
        let long = "x".repeat(100_000);
        assert_eq!(did_you_mean(&long, [long.as_str()]), None);
        assert_eq!(did_you_mean("x", [long.as_str()]), None);
        assert_eq!(
            did_you_mean("chekout", ["checkout", "cart"]),
            Some("checkout")
        );
        assert_eq!(did_you_mean("a", ["checkout"]), None);
    }

    #[test]
    fn long_values_are_clipped_in_messages() {
        let long = "x".repeat(10_000_000);
        let d = Diagnostic::new(
            Path::new("a.yaml"),
            Location::default(),
            format!("`{long}` is not a duration"),
        );
        assert!(d.message.len() < 200, "{}", d.message.len());
        assert!(d
            .message
            .ends_with("…[10000002 characters] is not a duration"));
        let many = "word ".repeat(1000);
        let d = Diagnostic::new(Path::new("a.yaml"), Location::default(), many);
        assert!(d.message.chars().count() < 1100);
        let short = "unknown key `slwo` (at steps[0])";
        let d = Diagnostic::new(Path::new("a.yaml"), Location::default(), short);
        assert_eq!(d.message, short);
    }
}
