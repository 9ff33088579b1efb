//! Keeping secret values out of everything shopwatch writes.
//!
//! A secret leaves in more forms than the one it was read in: percent-encoded in a URL
//! (`Zq7%20tok&en%3C9%3E`, or `Zq7+tok%26en%3C9%3E` from a form), HTML-escaped in a page source,
//! JSON-escaped in `--json`, base64 in a basic-auth header, and layered: a URL in an `href`
//! (`&amp;` inside the percent-encoding), page text quoted in JSON. A [`Redactor`] works out
//! every such form of each secret when it learns the secret, and replaces them all in one pass
//! over an output with one Aho-Corasick automaton (leftmost-longest: where forms overlap, the
//! longest is replaced whole).

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use base64::Engine as _;
use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, OnceLock, RwLock};

/// What replaces a secret value wherever it would appear.
pub const REDACTED: &str = "[redacted]";

/// Secrets up to this long also get the layered forms (an encoding of an encoding); longer
/// ones (a key file) only the single encodings, as layers multiply.
const LAYERED_UP_TO: usize = 256;
/// The bytes of forms kept per secret beyond its raw value, most likely forms first: bounds
/// the automaton's memory for a long secret.
const FORMS_BUDGET: usize = 1 << 20;
/// A base64 piece shorter than this could match unrelated base64 (an inline image).
const MIN_BASE64_PIECE: usize = 8;

/// Replaces every form of every known secret in a text.
#[derive(Clone, Default)]
pub struct Redactor {
    /// How many secrets (and logins) it was given.
    secrets: usize,
    /// Every form of every secret.
    forms: HashSet<String>,
    /// Built from `forms` on first use; reset when a secret is added.
    automaton: OnceLock<Result<AhoCorasick, aho_corasick::BuildError>>,
}

/// Never prints the forms: they are the secrets.
impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Redactor({} secrets, {} forms)",
            self.secrets,
            self.forms.len()
        )
    }
}

impl Redactor {
    /// Learns a secret value (empty ones are ignored).
    pub fn add(&mut self, secret: &str) {
        if secret.is_empty() {
            return;
        }
        self.secrets += 1;
        let mut bases = vec![secret.to_string()];
        // Page text as `innerText` and shopwatch's own clipping show whitespace collapsed.
        let collapsed = secret.split_whitespace().collect::<Vec<_>>().join(" ");
        if !collapsed.is_empty() && collapsed != secret {
            bases.push(collapsed);
        }
        bases.extend(base64_forms(secret.as_bytes()));
        self.learn(secret, &bases);
    }

    /// Learns a password and the login it is used in: besides the password's own forms, the
    /// base64 of `user:password` (HTTP basic auth) and of `\0user\0password` (SMTP AUTH PLAIN).
    pub fn add_login(&mut self, user: &str, password: &str) {
        if password.is_empty() {
            return;
        }
        self.add(password);
        let mut bases = Vec::new();
        for login in [
            format!("{user}:{password}"),
            format!("\0{user}\0{password}"),
        ] {
            for engine in [&base64::engine::general_purpose::STANDARD, &URL_SAFE] {
                let encoded = engine.encode(login.as_bytes());
                bases.push(encoded.trim_end_matches('=').to_string());
                bases.push(encoded);
            }
        }
        self.learn(password, &bases);
    }

    /// Learns every secret `other` knows.
    pub fn extend(&mut self, other: &Redactor) {
        self.secrets += other.secrets;
        let before = self.forms.len();
        self.forms.extend(other.forms.iter().cloned());
        if self.forms.len() != before {
            self.automaton = OnceLock::new();
        }
    }

    /// `text` with every form of every secret replaced by [`REDACTED`], in one pass.
    pub fn redact(&self, text: &str) -> String {
        if self.forms.is_empty() {
            return text.to_string();
        }
        let Some(automaton) = self.automaton() else {
            // Unreachable within the forms' budget; should it happen, nothing gets out.
            return REDACTED.to_string();
        };
        let mut out = String::with_capacity(text.len());
        automaton.replace_all_with(text, &mut out, |_, _, out| {
            out.push_str(REDACTED);
            true
        });
        out
    }

    pub fn is_empty(&self) -> bool {
        self.forms.is_empty()
    }

    /// Adds the forms of each base of `secret`, most likely first, within the budget.
    fn learn(&mut self, secret: &str, bases: &[String]) {
        self.forms.insert(secret.to_string());
        let mut spent = 0;
        'bases: for base in bases {
            for form in layered(base).into_iter().filter(|f| f.as_str() != secret) {
                if spent + form.len() > FORMS_BUDGET {
                    break 'bases;
                }
                spent += form.len();
                self.forms.insert(form);
            }
        }
        self.automaton = OnceLock::new();
    }

    /// The automaton of the forms; `None` if it could not be built.
    fn automaton(&self) -> Option<&AhoCorasick> {
        self.automaton
            .get_or_init(|| {
                // The contiguous NFA stays small for long patterns, where a DFA would not.
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostLongest)
                    .kind(Some(AhoCorasickKind::ContiguousNFA))
                    .build(&self.forms)
            })
            .as_ref()
            .ok()
    }
}

/// The log's redactor: every secret the process has read, shared with the log writer that
/// main installs, so that no log line (shopwatch's, a driver's, a library's) holds one.
#[derive(Clone, Default)]
pub struct LogRedaction(Arc<RwLock<Redactor>>);

impl LogRedaction {
    /// Keeps `redactor`'s secrets out of the log from now on.
    pub fn learn(&self, redactor: &Redactor) {
        self.0
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .extend(redactor);
    }

    /// `text` without any secret learnt so far (API answers go through this too).
    pub fn redact(&self, text: &str) -> String {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .redact(text)
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogRedaction {
    type Writer = RedactedStderr;

    fn make_writer(&'a self) -> RedactedStderr {
        RedactedStderr(self.clone())
    }
}

/// Standard error through the log's redactor. The log formats each event whole and writes it
/// in one call, so a secret is never split across two writes.
pub struct RedactedStderr(LogRedaction);

impl std::io::Write for RedactedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let redacted = (self.0)
            .0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .redact(&text);
        std::io::stderr().write_all(redacted.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

const URL_SAFE: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE;

/// The base64 of the secret, and the pieces of it that show whatever comes before or after it
/// in the encoded text (`user:secret` in a basic-auth header, for any user): at each of the
/// three byte offsets the secret can start at, the characters made of its bits alone.
fn base64_forms(secret: &[u8]) -> Vec<String> {
    let mut forms = Vec::new();
    for engine in [&base64::engine::general_purpose::STANDARD, &URL_SAFE] {
        let exact = engine.encode(secret);
        forms.push(exact.trim_end_matches('=').to_string());
        forms.push(exact);
        for offset in 0..3 {
            let mut bytes = vec![0u8; offset];
            bytes.extend_from_slice(secret);
            let encoded = engine.encode(&bytes);
            // Character i holds bits 6i..6i+6; the secret's are 8*offset..8*(offset+len).
            let first = (8 * offset).div_ceil(6);
            let last = 8 * (offset + secret.len()) / 6;
            if last >= first + MIN_BASE64_PIECE {
                // Followed by more data, and at the end of the data (its last bits and padding).
                forms.push(encoded[first..last].to_string());
                forms.push(encoded[first..].to_string());
            }
        }
    }
    forms
}

type Encoder = Box<dyn Fn(&str) -> String + Send + Sync>;

/// The encodings a text goes through on its way out, by family. Each family lists its common
/// encoders first: those are the ones layered.
struct Family {
    encoders: Vec<Encoder>,
    common: usize,
}

impl Family {
    fn all(&self) -> &[Encoder] {
        &self.encoders
    }

    fn common(&self) -> &[Encoder] {
        &self.encoders[..self.common]
    }
}

struct Families {
    url: Family,
    html: Family,
    json: Family,
}

fn families() -> &'static Families {
    static FAMILIES: OnceLock<Families> = OnceLock::new();
    FAMILIES.get_or_init(|| Families {
        url: url_encoders(),
        html: html_encoders(),
        json: json_encoders(),
    })
}

/// `base` and what the encoders make of it: through each encoder alone and, for a short base,
/// through the layers texts really go through (inner first): a URL in a page (an `href`) or in
/// JSON, page text in JSON, JSON in a page (a `data-` attribute) or in a URL, and a link's
/// page text in JSON. Each form once, single encodings first.
fn layered(base: &str) -> Vec<String> {
    let f = families();
    let mut forms = vec![base.to_string()];
    let mut seen: HashSet<String> = HashSet::from([base.to_string()]);
    let mut keep = |form: String, forms: &mut Vec<String>| {
        if seen.insert(form.clone()) {
            forms.push(form);
        }
    };
    for family in [&f.json, &f.html, &f.url] {
        for encode in family.all() {
            keep(encode(base), &mut forms);
        }
    }
    if base.len() > LAYERED_UP_TO {
        return forms;
    }
    let chains: [&[&Family]; 6] = [
        &[&f.url, &f.html],
        &[&f.url, &f.json],
        &[&f.html, &f.json],
        &[&f.json, &f.html],
        &[&f.json, &f.url],
        &[&f.url, &f.html, &f.json],
    ];
    for chain in chains {
        let mut current: Vec<String> = vec![base.to_string()];
        for family in chain {
            let mut next: HashSet<String> = current.iter().cloned().collect();
            for text in &current {
                for encode in family.common() {
                    next.insert(encode(text));
                }
            }
            current = next.into_iter().collect();
        }
        for form in current {
            keep(form, &mut forms);
        }
    }
    forms
}

// ---------------------------------------------------------------------------------------------
// URL: percent-encoding as browsers, the `url` crate, JavaScript and form submission do it.

/// Whether a percent-encoder leaves a byte as it is.
type Keeps = fn(u8) -> bool;

/// Percent-encodes every byte `keeps` does not keep; a space as `+` when `plus`.
fn percent(text: &str, keeps: Keeps, plus: bool, upper: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for &byte in text.as_bytes() {
        if plus && byte == b' ' {
            out.push('+');
        } else if keeps(byte) {
            out.push(char::from(byte));
        } else if upper {
            out.push_str(&format!("%{byte:02X}"));
        } else {
            out.push_str(&format!("%{byte:02x}"));
        }
    }
    out
}

/// WHATWG's C0 control percent-encode set: controls and everything beyond ASCII.
fn c0(b: u8) -> bool {
    !(0x20..0x7f).contains(&b)
}
fn fragment_keeps(b: u8) -> bool {
    !(c0(b) || b" \"<>`".contains(&b))
}
fn query_keeps(b: u8) -> bool {
    !(c0(b) || b" \"#<>".contains(&b))
}
fn special_query_keeps(b: u8) -> bool {
    query_keeps(b) && b != b'\''
}
fn path_keeps(b: u8) -> bool {
    query_keeps(b) && !b"?^`{}".contains(&b)
}
fn userinfo_keeps(b: u8) -> bool {
    path_keeps(b) && !b"/:;=@[\\]^|".contains(&b)
}
fn component_keeps(b: u8) -> bool {
    userinfo_keeps(b) && !b"$%&+,".contains(&b)
}
/// `application/x-www-form-urlencoded` (a submitted form, `url::form_urlencoded`).
fn form_keeps(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"*-._".contains(&b)
}
/// JavaScript's `encodeURIComponent`.
fn uri_component_keeps(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b)
}
/// RFC 3986 unreserved (Python's `quote(safe='')`, Go's `url.QueryEscape`).
fn unreserved_keeps(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~".contains(&b)
}

fn url_encoders() -> Family {
    let sets: [(Keeps, bool); 11] = [
        (fragment_keeps, false),
        (query_keeps, false),
        (special_query_keeps, false),
        (path_keeps, false),
        (userinfo_keeps, false),
        (component_keeps, false),
        (form_keeps, true),
        (form_keeps, false),
        (uri_component_keeps, false),
        (unreserved_keeps, false),
        (unreserved_keeps, true),
    ];
    let mut encoders: Vec<Encoder> = Vec::new();
    for (keeps, plus) in sets {
        for upper in [true, false] {
            encoders.push(Box::new(move |text| percent(text, keeps, plus, upper)));
        }
    }
    // Every way of percent-encoding differs only in a few characters: all are common.
    let common = encoders.len();
    Family { encoders, common }
}

// ---------------------------------------------------------------------------------------------
// HTML: how browsers serialize a page (text and attributes), template engines, XML, entities.

/// How an HTML escaper writes characters: named entities from `named`, then numeric ones for
/// what `numeric` picks.
#[derive(Clone, Copy)]
struct Entities {
    named: &'static [(char, &'static str)],
    numeric: fn(char) -> bool,
    hex: Option<bool>,
}

fn escape_html(text: &str, e: Entities) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if let Some((_, entity)) = e.named.iter().find(|(n, _)| *n == c) {
            out.push_str(entity);
        } else if (e.numeric)(c) {
            match e.hex {
                None => out.push_str(&format!("&#{};", c as u32)),
                Some(true) => out.push_str(&format!("&#x{:X};", c as u32)),
                Some(false) => out.push_str(&format!("&#x{:x};", c as u32)),
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn none(_: char) -> bool {
    false
}
fn beyond_ascii(c: char) -> bool {
    !c.is_ascii()
}
fn not_alphanumeric(c: char) -> bool {
    !c.is_ascii_alphanumeric()
}

/// Browsers' serialization of text, and of attribute values (older and newer rules).
const TEXT: &[(char, &str)] = &[
    ('&', "&amp;"),
    ('<', "&lt;"),
    ('>', "&gt;"),
    ('\u{a0}', "&nbsp;"),
];
const ATTRIBUTE: &[(char, &str)] = &[('&', "&amp;"), ('"', "&quot;"), ('\u{a0}', "&nbsp;")];
const ATTRIBUTE_NEW: &[(char, &str)] = &[
    ('&', "&amp;"),
    ('"', "&quot;"),
    ('<', "&lt;"),
    ('>', "&gt;"),
    ('\u{a0}', "&nbsp;"),
];
/// XML (quick-xml, so JUnit reports).
const XML: &[(char, &str)] = &[
    ('&', "&amp;"),
    ('<', "&lt;"),
    ('>', "&gt;"),
    ('"', "&quot;"),
    ('\'', "&apos;"),
];
/// Template engines' escaping of the five (MarkupSafe, Go, askama, Python's `html.escape`).
const QUOT_39: &[(char, &str)] = &[
    ('&', "&amp;"),
    ('<', "&lt;"),
    ('>', "&gt;"),
    ('"', "&quot;"),
    ('\'', "&#39;"),
];
const QUOT_X27: &[(char, &str)] = &[
    ('&', "&amp;"),
    ('<', "&lt;"),
    ('>', "&gt;"),
    ('"', "&quot;"),
    ('\'', "&#x27;"),
];
const NUMERIC_QUOTES: &[(char, &str)] = &[
    ('&', "&amp;"),
    ('<', "&lt;"),
    ('>', "&gt;"),
    ('"', "&#34;"),
    ('\'', "&#39;"),
];

fn html_encoders() -> Family {
    let e = |named, numeric, hex| Entities {
        named,
        numeric,
        hex,
    };
    // Common: browsers' serialization, XML, the most used template escaping.
    let common = 5;
    let list = [
        e(TEXT, none, None),
        e(ATTRIBUTE, none, None),
        e(ATTRIBUTE_NEW, none, None),
        e(XML, none, None),
        e(QUOT_39, none, None),
        e(QUOT_X27, none, None),
        e(NUMERIC_QUOTES, none, None),
        // Characters beyond ASCII as numeric entities (a page not in UTF-8).
        e(QUOT_39, beyond_ascii, None),
        e(QUOT_X27, beyond_ascii, Some(true)),
        e(QUOT_X27, beyond_ascii, Some(false)),
        // Every character but letters and digits as numeric entities (OWASP's encoders).
        e(&[], not_alphanumeric, None),
        e(&[], not_alphanumeric, Some(true)),
        e(&[], not_alphanumeric, Some(false)),
    ];
    let encoders = list
        .into_iter()
        .map(|entities| Box::new(move |text: &str| escape_html(text, entities)) as Encoder)
        .collect();
    Family { encoders, common }
}

// ---------------------------------------------------------------------------------------------
// JSON: serde_json's escaping inside a string, and the `\uXXXX` forms other encoders use.

#[derive(Clone, Copy, Default)]
struct JsonStyle {
    /// `/` as `\/` (PHP).
    slash: bool,
    /// Everything beyond ASCII as `\uXXXX` (Python's default, Jackson).
    ascii: bool,
    /// `<`, `>`, `&`, U+2028 and U+2029 as `\uXXXX` (Go's `encoding/json`).
    html_safe: bool,
    upper: bool,
}

fn escape_json(text: &str, style: JsonStyle) -> String {
    let mut out = String::with_capacity(text.len());
    let unicode = |out: &mut String, unit: u16| {
        if style.upper {
            out.push_str(&format!("\\u{unit:04X}"));
        } else {
            out.push_str(&format!("\\u{unit:04x}"));
        }
    };
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '/' if style.slash => out.push_str("\\/"),
            c if (c as u32) < 0x20 => unicode(&mut out, c as u16),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' if style.html_safe => {
                unicode(&mut out, c as u16)
            }
            c if style.ascii && !c.is_ascii() => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    unicode(&mut out, *unit);
                }
            }
            c => out.push(c),
        }
    }
    out
}

fn json_encoders() -> Family {
    // Common: serde_json's (and JavaScript's), Python's, Go's.
    let common = 3;
    let styles = [
        JsonStyle::default(),
        JsonStyle {
            ascii: true,
            ..JsonStyle::default()
        },
        JsonStyle {
            html_safe: true,
            ..JsonStyle::default()
        },
        JsonStyle {
            slash: true,
            ..JsonStyle::default()
        },
        JsonStyle {
            ascii: true,
            upper: true,
            ..JsonStyle::default()
        },
        JsonStyle {
            html_safe: true,
            ascii: true,
            ..JsonStyle::default()
        },
    ];
    let encoders = styles
        .into_iter()
        .map(|style| Box::new(move |text: &str| escape_json(text, style)) as Encoder)
        .collect();
    Family { encoders, common }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "Zq7 tok&en<9>\"ü'";

    fn redactor() -> Redactor {
        let mut r = Redactor::default();
        r.add(SECRET);
        r
    }

    /// `form` appears in `text` before redaction and is gone after, replaced by the marker.
    fn assert_redacts(r: &Redactor, form: &str) {
        let text = format!("before {form} after");
        assert_eq!(
            r.redact(&text),
            format!("before {REDACTED} after"),
            "form {form:?}"
        );
    }

    #[test]
    fn redacts_longest_first() {
        let mut r = Redactor::default();
        r.add("abc");
        r.add("abcdef");
        assert_eq!(r.redact("x abcdef y abc"), "x [redacted] y [redacted]");
    }

    #[test]
    fn raw_value() {
        assert_redacts(&redactor(), SECRET);
    }

    #[test]
    fn url_query_as_browsers_and_the_url_crate_write_it() {
        let r = redactor();
        let url = url::Url::parse(&format!("http://shop.test/search?q={SECRET}")).unwrap();
        let query = url.query().unwrap().strip_prefix("q=").unwrap().to_string();
        assert_eq!(query, "Zq7%20tok&en%3C9%3E%22%C3%BC%27");
        assert_redacts(&r, &query);
        assert_redacts(&r, &query.to_lowercase().replace("zq7", "Zq7"));
        assert_eq!(
            r.redact(url.as_str()),
            "http://shop.test/search?q=[redacted]"
        );
    }

    #[test]
    fn url_path_and_fragment() {
        let r = redactor();
        let url = url::Url::parse(&format!("http://shop.test/p/{SECRET}#{SECRET}")).unwrap();
        assert_eq!(
            r.redact(url.as_str()),
            "http://shop.test/p/[redacted]#[redacted]"
        );
    }

    #[test]
    fn url_form_encoded_with_plus_for_space() {
        let r = redactor();
        let form: String = url::form_urlencoded::byte_serialize(SECRET.as_bytes()).collect();
        assert_eq!(form, "Zq7+tok%26en%3C9%3E%22%C3%BC%27");
        assert_redacts(&r, &form);
        assert_redacts(&r, "Zq7+tok%26en%3c9%3e%22%c3%bc%27");
    }

    #[test]
    fn url_component_with_percent_20() {
        let r = redactor();
        // encodeURIComponent keeps `'`; RFC 3986 quoting does not.
        assert_redacts(&r, "Zq7%20tok%26en%3C9%3E%22%C3%BC'");
        assert_redacts(&r, "Zq7%20tok%26en%3C9%3E%22%C3%BC%27");
        assert_redacts(&r, "Zq7%20tok%26en%3c9%3e%22%c3%bc%27");
    }

    #[test]
    fn html_text_and_attributes_as_browsers_serialize_them() {
        let r = redactor();
        assert_redacts(&r, "Zq7 tok&amp;en&lt;9&gt;\"ü'");
        assert_redacts(&r, "Zq7 tok&amp;en<9>&quot;ü'");
        assert_redacts(&r, "Zq7 tok&amp;en&lt;9&gt;&quot;ü'");
    }

    #[test]
    fn html_escaped_by_templates_and_xml() {
        let r = redactor();
        assert_redacts(&r, "Zq7 tok&amp;en&lt;9&gt;&quot;ü&#39;");
        assert_redacts(&r, "Zq7 tok&amp;en&lt;9&gt;&quot;ü&#x27;");
        assert_redacts(&r, "Zq7 tok&amp;en&lt;9&gt;&#34;ü&#39;");
        assert_redacts(&r, "Zq7 tok&amp;en&lt;9&gt;&quot;ü&apos;");
        let xml = quick_xml::escape::escape(SECRET).to_string();
        assert_redacts(&r, &xml);
    }

    #[test]
    fn html_numeric_entities() {
        let r = redactor();
        assert_redacts(&r, "Zq7 tok&amp;en&lt;9&gt;&quot;&#252;&#39;");
        assert_redacts(&r, "Zq7 tok&amp;en&lt;9&gt;&quot;&#xFC;&#x27;");
        assert_redacts(&r, "Zq7&#32;tok&#38;en&#60;9&#62;&#34;&#252;&#39;");
        assert_redacts(&r, "Zq7&#x20;tok&#x26;en&#x3C;9&#x3E;&#x22;&#xFC;&#x27;");
        assert_redacts(&r, "Zq7&#x20;tok&#x26;en&#x3c;9&#x3e;&#x22;&#xfc;&#x27;");
    }

    #[test]
    fn json_as_serde_json_escapes_it() {
        let r = redactor();
        let json = serde_json::to_string(&SECRET).unwrap();
        let inner = &json[1..json.len() - 1];
        assert_eq!(inner, "Zq7 tok&en<9>\\\"ü'");
        assert_redacts(&r, inner);
        let report = serde_json::json!({ "reason": format!("the text was \"{SECRET}\"") });
        assert_eq!(
            r.redact(&report.to_string()),
            r#"{"reason":"the text was \"[redacted]\""}"#
        );
    }

    #[test]
    fn json_unicode_escapes() {
        let r = redactor();
        assert_redacts(&r, "Zq7 tok&en<9>\\\"\\u00fc'");
        assert_redacts(&r, "Zq7 tok&en<9>\\\"\\u00FC'");
        assert_redacts(&r, "Zq7 tok\\u0026en\\u003c9\\u003e\\\"ü'");
        let mut r = Redactor::default();
        r.add("tab\there/\u{1}😀");
        assert_redacts(&r, "tab\\there\\/\\u0001😀");
        assert_redacts(&r, "tab\\there/\\u0001\\ud83d\\ude00");
    }

    #[test]
    fn layered_forms_a_url_in_html_and_page_text_in_json() {
        let r = redactor();
        // The href of a link to a URL with the secret in its query.
        assert_redacts(&r, "Zq7%20tok&amp;en%3C9%3E%22%C3%BC%27");
        // A page's HTML-escaped text quoted in a JSON report.
        assert_redacts(&r, "Zq7 tok&amp;en&lt;9&gt;&quot;ü&#39;");
        assert_redacts(&r, "Zq7 tok&amp;en&lt;9&gt;\\\"ü'");
        // JSON in a data attribute.
        assert_redacts(&r, "Zq7 tok&amp;en&lt;9&gt;\\&quot;ü&#39;");
    }

    #[test]
    fn base64_of_the_secret_and_of_any_user_colon_secret() {
        use base64::engine::general_purpose::STANDARD;
        let mut r = Redactor::default();
        r.add("hunter2-s3cr3t");
        assert_redacts(&r, &STANDARD.encode("hunter2-s3cr3t"));
        // Whoever the user is, the characters made of the secret's bits are redacted, to the end.
        for user in ["a", "ab", "admin", "shopper@example.com"] {
            let header = STANDARD.encode(format!("{user}:hunter2-s3cr3t"));
            let redacted = r.redact(&format!("Authorization: Basic {header}"));
            assert!(redacted.ends_with(REDACTED), "{user}: {redacted}");
            let kept = redacted.trim_start_matches("Authorization: Basic ");
            let kept = kept.trim_end_matches(REDACTED);
            assert!(
                kept.len() <= (user.len() + 1).div_ceil(3) * 4,
                "{user}: only the user's characters stay: {redacted}"
            );
        }
    }

    #[test]
    fn base64_of_a_known_login_is_redacted_whole() {
        use base64::engine::general_purpose::STANDARD;
        let mut r = Redactor::default();
        r.add_login("shopper", "pw");
        assert_redacts(&r, &STANDARD.encode("shopper:pw"));
        assert_redacts(&r, &STANDARD.encode("\0shopper\0pw"));
        assert_redacts(&r, "pw");
    }

    #[test]
    fn short_secrets_get_no_base64_pieces_that_would_match_anything() {
        let mut r = Redactor::default();
        r.add("ab");
        // An inline image in a page source is left alone but for the exact encoding.
        let image = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAAB";
        assert_eq!(r.redact(image), image);
    }

    #[test]
    fn whitespace_collapsed_as_page_text_shows_it() {
        let mut r = Redactor::default();
        r.add("two  spaces\nand a line");
        assert_redacts(&r, "two spaces and a line");
    }

    #[test]
    fn extend_and_empty() {
        let mut all = Redactor::default();
        assert!(all.is_empty());
        assert_eq!(all.redact("nothing & <here>"), "nothing & <here>");
        all.extend(&redactor());
        assert!(!all.is_empty());
        assert_redacts(&all, "Zq7+tok%26en%3C9%3E%22%C3%BC%27");
        assert!(!format!("{all:?}").contains("Zq7"), "Debug shows no secret");
    }

    #[test]
    fn a_long_secret_stays_within_the_budget_and_is_redacted() {
        let secret: String = (0..64 * 1024)
            .map(|i| char::from(b"ab<&\n c\"d"[i % 9]))
            .collect();
        let started = std::time::Instant::now();
        let mut r = Redactor::default();
        r.add(&secret);
        let text = format!("x{}y", serde_json::to_string(&secret).unwrap());
        assert_eq!(r.redact(&text), format!("x\"{REDACTED}\"y"));
        assert_eq!(r.redact(&format!("x{secret}y")), format!("x{REDACTED}y"));
        let bytes: usize = r.forms.iter().map(String::len).sum();
        assert!(
            bytes <= secret.len() * 2 + FORMS_BUDGET,
            "{bytes} bytes of forms"
        );
        // Generous: a debug build on a busy machine.
        assert!(started.elapsed().as_secs() < 20, "{:?}", started.elapsed());
    }
}
