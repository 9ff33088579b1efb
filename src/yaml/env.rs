//! `${env:NAME}` in configuration and journey values: the environment variable's value, put
//! in after the YAML is parsed into events, so a value can never change the file's structure
//! (a `: ` or a line break in it stays text) and every location stays where it was written.
//! `$${env:NAME}` writes `${env:NAME}` itself.
//!
//! The `env:` prefix keeps this apart from journeys' own `${name}` templates (whose names have
//! no `:`): a journey's variables and stored values are filled at run time, the environment
//! here at load time. Secrets are not this: `{secret: env:NAME}` reads one and redacts it; a
//! value that is a secret is redacted wherever it appears, also where `${env:...}` put it.
//!
//! How: each scalar value holding `${env:` is found with its place in the text (plain and
//! quoted one-line scalars) and replaced by a double-quoted scalar of the expanded text, padded
//! with spaces to its old length where shorter, so what follows on the line keeps its column.

use super::diagnostic::Diagnostic;
use super::locate::Location;
use std::path::Path;
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::TScalarStyle;

const OPEN: &str = "${env:";
const ESCAPED: &str = "$${env:";

/// `source` with every `${env:NAME}` of its values replaced, or the located errors (a variable
/// not set, a bad name, a value form that cannot take one). `lookup` reads a variable.
pub fn expand(
    file: &Path,
    source: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, Vec<Diagnostic>> {
    if !source.contains(OPEN) {
        return Ok(source.to_string());
    }
    let mut replacements = Vec::new();
    let mut errors = Vec::new();
    // Where each char index starts in bytes (the parser counts chars).
    let byte_at: Vec<usize> = source
        .char_indices()
        .map(|(i, _)| i)
        .chain([source.len()])
        .collect();
    let mut parser = Parser::new_from_str(source);
    // Per open collection: for a mapping, whether its next node is a key; None for a list.
    let mut keys: Vec<Option<bool>> = Vec::new();
    loop {
        let (event, mark) = match parser.next_token() {
            Ok((Event::StreamEnd, _)) | Err(_) => break,
            Ok(next) => next,
        };
        match event {
            Event::MappingStart(..) => {
                after_node(&mut keys);
                keys.push(Some(true));
            }
            Event::SequenceStart(..) => {
                after_node(&mut keys);
                keys.push(None);
            }
            Event::MappingEnd | Event::SequenceEnd => {
                keys.pop();
            }
            Event::Scalar(value, style, _, tag) => {
                let is_key = keys.last() == Some(&Some(true));
                after_node(&mut keys);
                if is_key || !value.contains(OPEN) {
                    continue;
                }
                let at = Location {
                    line: mark.line(),
                    column: mark.col() + 1,
                };
                let error = |message: String, hint: &str| {
                    Diagnostic::new(file, at, message).with_hint(hint.to_string())
                };
                let start = byte_at.get(mark.index()).copied().unwrap_or(source.len());
                let written = match (&style, tag) {
                    (_, Some(_)) => None,
                    (TScalarStyle::Plain, _) => plain_end(source, start, &value),
                    (TScalarStyle::SingleQuoted, _) => quoted_end(source, start, '\''),
                    (TScalarStyle::DoubleQuoted, _) => quoted_end(source, start, '"'),
                    _ => None,
                };
                let Some(end) = written.filter(|end| !source[start..*end].contains('\n')) else {
                    errors.push(error(
                        "`${env:...}` works in a one-line value (plain or quoted), not in a block, multi-line or tagged one".to_string(),
                        "write the value on one line, e.g. `url: \"https://${env:SHOP_HOST}/\"`",
                    ));
                    continue;
                };
                match substitute(&value, &lookup) {
                    Ok(text) => replacements.push((start, end, text)),
                    Err((message, hint)) => errors.push(error(message, hint)),
                }
            }
            Event::Alias(_) => after_node(&mut keys),
            _ => {}
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut out = String::with_capacity(source.len());
    let mut done = 0;
    for (start, end, text) in replacements {
        out.push_str(&source[done..start]);
        let quoted = double_quoted(&text);
        let width = source[start..end].chars().count();
        let pad = width.saturating_sub(quoted.chars().count());
        out.push_str(&quoted);
        out.extend(std::iter::repeat_n(' ', pad));
        done = end;
    }
    out.push_str(&source[done..]);
    Ok(out)
}

/// A node was read in the innermost collection: in a mapping, keys and values alternate.
fn after_node(keys: &mut [Option<bool>]) {
    if let Some(Some(next_is_key)) = keys.last_mut() {
        *next_is_key = !*next_is_key;
    }
}

/// Where a one-line plain scalar `value` that starts at `start` ends: it is its own text.
fn plain_end(source: &str, start: usize, value: &str) -> Option<usize> {
    source[start..]
        .starts_with(value)
        .then_some(start + value.len())
}

/// Where a quoted scalar starting at `start` (its opening quote) ends, after the closing quote.
fn quoted_end(source: &str, start: usize, quote: char) -> Option<usize> {
    let mut chars = source[start..].char_indices();
    if chars.next()?.1 != quote {
        return None;
    }
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' if quote == '"' => {
                chars.next();
            }
            c if c == quote => {
                // `''` inside single quotes is one quote.
                if quote == '\'' && source[start + i + 1..].starts_with('\'') {
                    chars.next();
                    continue;
                }
                return Some(start + i + 1);
            }
            _ => {}
        }
    }
    None
}

/// `value` with each `${env:NAME}` replaced by the variable and `$${env:` by `${env:`.
fn substitute(
    value: &str,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<String, (String, &'static str)> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    loop {
        let escaped = rest.find(ESCAPED);
        let open = rest.find(OPEN);
        match (escaped, open) {
            // `$${env:` starts one char before the `${env:` inside it.
            (Some(e), Some(o)) if e + 1 == o => {
                out.push_str(&rest[..e]);
                out.push_str(OPEN);
                rest = &rest[e + ESCAPED.len()..];
            }
            (_, Some(o)) => {
                out.push_str(&rest[..o]);
                let body = &rest[o + OPEN.len()..];
                let Some(close) = body.find('}') else {
                    return Err((
                        format!("unclosed `${{env:` in `{value}`"),
                        "write `${env:NAME}`, or `$${env:` for the text itself",
                    ));
                };
                let name = &body[..close];
                if !is_env_name(name) {
                    return Err((
                        format!("`${{env:{name}}}` does not name an environment variable"),
                        "a name has letters, digits and `_` and does not start with a digit, e.g. `${env:SHOP_HOST}`",
                    ));
                }
                match lookup(name) {
                    Some(v) => out.push_str(&v),
                    None => {
                        return Err((
                            format!("environment variable `{name}` is not set (`${{env:{name}}}`)"),
                            "set it in the environment shopwatch runs in (systemd: `Environment=` or `EnvironmentFile=`), or write `$${env:...}` for the text itself",
                        ))
                    }
                }
                rest = &body[close + 1..];
            }
            (_, None) => {
                out.push_str(rest);
                return Ok(out);
            }
        }
    }
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// `text` as a YAML double-quoted scalar on one line.
fn double_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("shop.example.com".to_string()),
            "TRICKY" => Some("a: b\n- c # \"d\" \\ e".to_string()),
            "PORT" => Some("8443".to_string()),
            _ => None,
        }
    }

    fn run(source: &str) -> Result<String, Vec<String>> {
        expand(Path::new("x.yaml"), source, env)
            .map_err(|errors| errors.iter().map(|d| d.to_string()).collect())
    }

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Doc {
        url: String,
        n: Option<u32>,
        list: Option<Vec<String>>,
    }

    fn parse(source: &str) -> Doc {
        serde_saphyr::from_str(&run(source).unwrap()).unwrap()
    }

    #[test]
    fn values_are_expanded_and_keep_what_follows_in_place() {
        let expanded = run("url: https://${env:HOST}:${env:PORT}/  # the shop\nn: 1\n").unwrap();
        assert_eq!(
            expanded,
            "url: \"https://shop.example.com:8443/\"  # the shop\nn: 1\n"
        );
        // Shorter: padded, so `n` keeps its column.
        let expanded = run("{url: 'x${env:PORT}', n: 2}").unwrap();
        assert_eq!(expanded, "{url: \"x8443\"       , n: 2}");
        assert_eq!(
            parse("{url: 'x${env:PORT}', n: 2}"),
            Doc {
                url: "x8443".into(),
                n: Some(2),
                list: None
            }
        );
    }

    #[test]
    fn a_value_cannot_change_the_structure() {
        let doc = parse("url: ${env:TRICKY}\nlist: [\"${env:TRICKY}\"]\n");
        assert_eq!(doc.url, "a: b\n- c # \"d\" \\ e");
        assert_eq!(doc.list, Some(vec!["a: b\n- c # \"d\" \\ e".to_string()]));
        assert_eq!(doc.n, None);
    }

    #[test]
    fn keys_are_not_expanded_and_the_escape_writes_the_text() {
        assert_eq!(run("\"${env:HOST}\": 1\n").unwrap(), "\"${env:HOST}\": 1\n");
        assert_eq!(
            parse("url: $${env:HOST}/${env:PORT}\n").url,
            "${env:HOST}/8443"
        );
    }

    #[test]
    fn a_missing_variable_is_a_located_error_naming_it() {
        let errors = run("n: 1\nurl: \"https://${env:SHOP_HOST}/\"\n").unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with(
                "x.yaml:2:6: environment variable `SHOP_HOST` is not set (`${env:SHOP_HOST}`)"
            ),
            "{errors:?}"
        );
        let errors = run("url: ${env:9x}\nlist:\n  - ${env:HOST\n").unwrap_err();
        assert!(
            errors[0].starts_with("x.yaml:1:6: `${env:9x}` does not name"),
            "{errors:?}"
        );
        assert!(
            errors[1].starts_with("x.yaml:3:5: unclosed `${env:`"),
            "{errors:?}"
        );
        let errors = run("url: |\n  ${env:HOST}\n").unwrap_err();
        assert!(
            errors[0].contains("works in a one-line value"),
            "{errors:?}"
        );
    }
}
