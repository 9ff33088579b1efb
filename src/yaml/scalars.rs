//! Scalar shapes several sections share: any scalar as text (`postcode: 10115`), one text or a
//! list, one status code or a list.

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::fmt;

/// A scalar as text; an empty value (`max_age:`) is not given, as for every other key.
pub fn opt_scalar_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct Text(String);
    impl<'de> Deserialize<'de> for Text {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            scalar_text(d).map(Text)
        }
    }
    Ok(Option::<Text>::deserialize(d)?.map(|text| text.0))
}

/// One text or a list of them: `severity: critical` or `severity: [critical, warning]`.
#[derive(Debug)]
pub struct OneOrMany(pub Vec<String>);

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a text or a list of texts")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany(vec![v.to_string()]))
            }
            fn visit_seq<S: de::SeqAccess<'de>>(self, seq: S) -> Result<OneOrMany, S::Error> {
                Vec::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(OneOrMany)
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// Accepts any YAML scalar as text, so `postcode: 10115` works like `postcode: "10115"`.
pub fn scalar_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    struct ScalarText;
    impl Visitor<'_> for ScalarText {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a string, number or boolean")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
            Ok(v.to_string())
        }
    }
    deserializer.deserialize_any(ScalarText)
}

/// One status code or a list of them.
#[derive(Debug)]
pub enum StatusList {
    One(u16),
    Many(Vec<u16>),
}

// Not `#[serde(untagged)]`: that reports its error at the enclosing `http:` instead of here.
impl<'de> Deserialize<'de> for StatusList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StatusList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an HTTP status code such as 200, or a list of them such as [200, 201]")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<StatusList, E> {
                u16::try_from(v)
                    .map(StatusList::One)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StatusList, E> {
                u16::try_from(v)
                    .map(StatusList::One)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
            }
            fn visit_seq<S: de::SeqAccess<'de>>(self, seq: S) -> Result<StatusList, S::Error> {
                Vec::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(StatusList::Many)
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// Why a text is not an http(s) URL.
#[derive(Debug)]
pub enum UrlProblem {
    NotAUrl(url::ParseError),
    /// Its scheme, which is not http or https.
    Scheme(String),
}

impl UrlProblem {
    /// What is wrong with `text`, named `what`.
    pub fn message(&self, what: &str, text: &str) -> String {
        match self {
            UrlProblem::Scheme(scheme) => format!("{what} must be http or https, not `{scheme}`"),
            UrlProblem::NotAUrl(e) => format!("`{text}` is not a URL: {e}"),
        }
    }
}

/// An http(s) URL, or why not.
pub fn parse_http_url(text: &str) -> Result<url::Url, UrlProblem> {
    match url::Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => Ok(url),
        Ok(url) => Err(UrlProblem::Scheme(url.scheme().to_string())),
        Err(e) => Err(UrlProblem::NotAUrl(e)),
    }
}

/// An http(s) URL, or (message) what is wrong with it; `what` names it in the message: "the
/// WebDriver url must be http or https, not `ftp`", "`shop` is not a URL: relative URL
/// without a base".
pub fn http_url(what: &str, text: &str) -> Result<url::Url, String> {
    parse_http_url(text).map_err(|problem| problem.message(what, text))
}
