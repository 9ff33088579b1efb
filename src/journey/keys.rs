//! Key names for `press`, turned into the WebDriver key codes that Element Send Keys takes.

/// Named keys and their WebDriver code points (W3C WebDriver, "Keyboard actions").
const NAMED_KEYS: &[(&str, char)] = &[
    ("Backspace", '\u{e003}'),
    ("Tab", '\u{e004}'),
    ("Enter", '\u{e007}'),
    ("Shift", '\u{e008}'),
    ("Control", '\u{e009}'),
    ("Alt", '\u{e00a}'),
    ("Escape", '\u{e00c}'),
    ("Space", '\u{e00d}'),
    ("PageUp", '\u{e00e}'),
    ("PageDown", '\u{e00f}'),
    ("End", '\u{e010}'),
    ("Home", '\u{e011}'),
    ("ArrowLeft", '\u{e012}'),
    ("ArrowUp", '\u{e013}'),
    ("ArrowRight", '\u{e014}'),
    ("ArrowDown", '\u{e015}'),
    ("Delete", '\u{e017}'),
    ("Meta", '\u{e03d}'),
];

/// Releases held modifiers at the end of a chord.
const RELEASE_MODIFIERS: char = '\u{e000}';

pub fn key_names() -> impl Iterator<Item = &'static str> {
    NAMED_KEYS.iter().map(|(name, _)| *name)
}

/// Parses `Enter`, `Control+a`, `Tab Tab Enter` (chords separated by spaces) into the text to
/// send. The error names the key that is not known.
pub fn parse_keys(spec: &str) -> Result<Vec<String>, String> {
    let chords: Vec<&str> = spec.split_whitespace().collect();
    if chords.is_empty() {
        return Err("`press` needs at least one key, e.g. `Enter` or `Control+a`".to_string());
    }
    chords
        .into_iter()
        .map(|chord| {
            let keys: Vec<&str> = chord.split('+').collect();
            let mut text = String::new();
            for key in &keys {
                text.push(key_code(key)?);
            }
            if keys.len() > 1 {
                text.push(RELEASE_MODIFIERS);
            }
            Ok(text)
        })
        .collect()
}

/// The key names of parsed chords, as a journey writes them (`Control+a Enter`): reasons
/// must not show the WebDriver code points, which print as nothing.
pub fn describe_keys(chords: &[String]) -> String {
    chords
        .iter()
        .map(|chord| {
            chord
                .chars()
                .filter(|c| *c != RELEASE_MODIFIERS)
                .map(|c| match NAMED_KEYS.iter().find(|(_, code)| *code == c) {
                    Some((name, _)) => name.to_string(),
                    None => c.to_string(),
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn key_code(key: &str) -> Result<char, String> {
    if let Some((_, code)) = NAMED_KEYS.iter().find(|(name, _)| *name == key) {
        return Ok(*code);
    }
    let mut chars = key.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => Ok(c),
        _ => Err(format!("unknown key `{key}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_chords() {
        assert_eq!(parse_keys("Enter").unwrap(), ["\u{e007}"]);
        assert_eq!(
            parse_keys("Control+a Tab").unwrap(),
            ["\u{e009}a\u{e000}", "\u{e004}"]
        );
        assert!(parse_keys("Entr").unwrap_err().contains("Entr"));
        assert!(parse_keys(" ").is_err());
    }

    #[test]
    fn describes_chords_by_name() {
        for spec in ["Enter", "Control+a Backspace t e a Enter", "Shift+Tab"] {
            assert_eq!(describe_keys(&parse_keys(spec).unwrap()), spec);
        }
    }
}
