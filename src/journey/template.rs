//! `${name}` interpolation of variables and stored values, applied after parsing so that
//! error columns stay true. `$$` writes a literal `$`.

use std::collections::HashMap;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Var(String),
}

/// A string with `${name}` placeholders. Displays as written, so reports never show values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    raw: String,
    parts: Vec<Part>,
}

impl Template {
    /// Parses `raw`; the error says what is wrong with a placeholder.
    pub fn parse(raw: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut rest = raw;
        while let Some(at) = rest.find('$') {
            text.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            if let Some(tail) = after.strip_prefix('$') {
                text.push('$');
                rest = tail;
            } else if let Some(body) = after.strip_prefix('{') {
                let Some(end) = body.find('}') else {
                    return Err(format!(
                        "unclosed `${{` in `{raw}`: write `${{name}}`, or `$$` for a literal `$`"
                    ));
                };
                let name = &body[..end];
                if name.starts_with("env:") {
                    // Left by the loader, which expands `${env:NAME}` and turns the escaped
                    // `$${env:NAME}` into this: the text itself.
                    text.push_str(&rest[at..at + 2 + end + 1]);
                    rest = &body[end + 1..];
                    continue;
                }
                if !is_name(name) {
                    return Err(format!(
                        "`${{{name}}}` is not a variable name: use letters, digits and `_`, e.g. `${{order_number}}`"
                    ));
                }
                if !text.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut text)));
                }
                parts.push(Part::Var(name.to_string()));
                rest = &body[end + 1..];
            } else {
                text.push('$');
                rest = after;
            }
        }
        text.push_str(rest);
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        Ok(Template {
            raw: raw.to_string(),
            parts,
        })
    }

    /// A template without placeholders.
    pub fn literal(text: &str) -> Template {
        Template {
            raw: text.replace('$', "$$"),
            parts: vec![Part::Text(text.to_string())],
        }
    }

    /// The names this template reads.
    pub fn vars(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|part| match part {
            Part::Var(name) => Some(name.as_str()),
            Part::Text(_) => None,
        })
    }

    /// Substitutes values; a name without a value is an error naming it.
    pub fn render(&self, values: &HashMap<String, String>) -> Result<String, String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Var(name) => match values.get(name) {
                    Some(value) => out.push_str(value),
                    None => return Err(format!("`${{{name}}}` has no value yet")),
                },
            }
        }
        Ok(out)
    }

    /// The logins this template writes into a URL as `//user:${password}@`: each user as
    /// rendered with `values` and the password's variable name. What cannot be rendered yet (a
    /// stored value) is left out.
    pub fn url_logins(&self, values: &HashMap<String, String>) -> Vec<(String, &str)> {
        let mut logins = Vec::new();
        let mut rendered = String::new();
        for (i, part) in self.parts.iter().enumerate() {
            let followed_by_at = matches!(
                self.parts.get(i + 1),
                Some(Part::Text(text)) if text.starts_with('@')
            );
            match part {
                Part::Var(name) if followed_by_at && rendered.ends_with(':') => {
                    let userinfo = &rendered[..rendered.len() - 1];
                    let user = userinfo.rsplit("//").next().unwrap_or(userinfo);
                    if !user.contains(['/', '@', ':']) {
                        logins.push((user.to_string(), name.as_str()));
                    }
                }
                _ => {}
            }
            match part {
                Part::Text(text) => rendered.push_str(text),
                Part::Var(name) => match values.get(name) {
                    Some(value) => rendered.push_str(value),
                    None => break,
                },
            }
        }
        logins
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

pub fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_vars_and_escapes() {
        let t = Template::parse("/api/orders/${order}/cancel?x=$$1&y=$z").unwrap();
        assert_eq!(t.vars().collect::<Vec<_>>(), ["order"]);
        let values = HashMap::from([("order".to_string(), "SW-1".to_string())]);
        assert_eq!(
            t.render(&values).unwrap(),
            "/api/orders/SW-1/cancel?x=$1&y=$z"
        );
        assert_eq!(t.to_string(), "/api/orders/${order}/cancel?x=$$1&y=$z");
    }

    #[test]
    fn finds_logins_in_url_userinfo() {
        let values = HashMap::from([
            ("user".to_string(), "shopper".to_string()),
            ("pw".to_string(), "s3cr3t".to_string()),
        ]);
        let logins = |raw: &str| -> Vec<(String, String)> {
            Template::parse(raw)
                .unwrap()
                .url_logins(&values)
                .into_iter()
                .map(|(user, var)| (user, var.to_string()))
                .collect()
        };
        let login = |user: &str, var: &str| vec![(user.to_string(), var.to_string())];
        assert_eq!(
            logins("https://admin:${pw}@shop.test/"),
            login("admin", "pw")
        );
        assert_eq!(
            logins("https://${user}:${pw}@shop.test/"),
            login("shopper", "pw")
        );
        assert!(logins("/login?user=${user}:${pw}").is_empty());
        assert!(logins("https://${missing}:${pw}@shop.test/").is_empty());
    }

    /// What the loader leaves of an escaped `$${env:NAME}` is text, not a variable.
    #[test]
    fn an_env_placeholder_left_by_the_loader_is_text() {
        let template = Template::parse("a ${env:HOME} ${x}").unwrap();
        assert_eq!(template.vars().collect::<Vec<_>>(), ["x"]);
        let values = HashMap::from([("x".to_string(), "1".to_string())]);
        assert_eq!(template.render(&values).unwrap(), "a ${env:HOME} 1");
    }

    #[test]
    fn rejects_bad_placeholders() {
        assert!(Template::parse("${").unwrap_err().contains("unclosed"));
        assert!(Template::parse("${a b}")
            .unwrap_err()
            .contains("not a variable name"));
        assert!(Template::parse("${x}")
            .unwrap()
            .render(&HashMap::new())
            .is_err());
    }
}
