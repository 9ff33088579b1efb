//! The journey file as written: serde types that check structure only (unknown keys, unknown
//! actions, wrong types), so the parser reports those with their line and column. Values
//! (durations, selectors, templates, regexes) stay text here; `validate` checks them all and
//! turns this into the typed `Journey`.

use crate::yaml::one_key::{one_key_enum, Family};
use crate::yaml::scalars::{opt_scalar_text, scalar_text, StatusList};
use crate::yaml::secret::VarFile;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JourneyFile {
    pub journey: String,
    pub base_url: String,
    pub every: Option<String>,
    pub cron: Option<String>,
    /// The IANA time zone of `cron`'s times (default UTC).
    pub timezone: Option<String>,
    pub timeout: Option<String>,
    pub retries: Option<u32>,
    pub browser: Option<String>,
    pub capabilities: Option<serde_json::Map<String, serde_json::Value>>,
    /// The page's inner size, `WIDTHxHEIGHT`.
    pub viewport: Option<String>,
    #[serde(default)]
    pub vars: BTreeMap<String, VarFile>,
    #[serde(default)]
    pub mask: Vec<Target>,
    /// The shop's own error elements: one shown during a wait fails the step at once.
    #[serde(default)]
    pub fail_on: Vec<Target>,
    #[serde(default)]
    pub defaults: DefaultsFile,
    pub steps: Vec<StepFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefaultsFile {
    pub slow: Option<String>,
    pub timeout: Option<String>,
    /// How long an `optional: true` action waits for its element (default 2s).
    pub optional_wait: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepFile {
    pub step: String,
    #[serde(rename = "do")]
    pub actions: Vec<ActionFile>,
    pub slow: Option<String>,
    pub timeout: Option<String>,
    #[serde(default)]
    pub always: bool,
    /// More error elements for this step, besides the journey's.
    #[serde(default)]
    pub fail_on: Vec<Target>,
}

/// Implements Deserialize for a struct that may also be written as a plain string.
macro_rules! string_or_struct {
    ($name:ident, $raw:ident, $expecting:literal, |$s:ident| $from_string:expr) => {
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_str<E: de::Error>(self, $s: &str) -> Result<$name, E> {
                        Ok($from_string)
                    }
                    fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<$name, M::Error> {
                        $raw::deserialize(de::value::MapAccessDeserializer::new(map))
                            .map($name::from)
                    }
                }
                deserializer.deserialize_any(V)
            }
        }
    };
}

/// Where an element is: `selector` (CSS; also the plain-string form), `xpath` or `link_text`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetRaw {
    pub selector: Option<String>,
    pub xpath: Option<String>,
    pub link_text: Option<String>,
}

#[derive(Debug, Default, Clone)]
pub struct Target(pub TargetRaw);
impl From<TargetRaw> for Target {
    fn from(raw: TargetRaw) -> Self {
        Target(raw)
    }
}
string_or_struct!(
    Target,
    TargetRaw,
    "a CSS selector, or a map with `selector`, `xpath` or `link_text`",
    |s| Target(TargetRaw {
        selector: Some(s.to_string()),
        ..TargetRaw::default()
    })
);

/// Declares an action argument struct whose element is given by the target keys.
macro_rules! targeted {
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            pub selector: Option<String>,
            pub xpath: Option<String>,
            pub link_text: Option<String>,
            /// Skip the action when its element does not show within `optional_wait`.
            #[serde(default)]
            pub optional: bool,
            pub optional_wait: Option<String>,
            $($(#[$fmeta])* pub $field: $ty,)*
        }
        impl $name {
            pub fn target(&self) -> TargetRaw {
                TargetRaw {
                    selector: self.selector.clone(),
                    xpath: self.xpath.clone(),
                    link_text: self.link_text.clone(),
                }
            }
            pub fn optional(&self) -> OptionalRaw<'_> {
                OptionalRaw {
                    optional: self.optional,
                    wait: self.optional_wait.as_deref(),
                }
            }
        }
    };
}

/// The `optional` and `optional_wait` keys of an action on an element.
#[derive(Debug, Clone, Copy, Default)]
pub struct OptionalRaw<'a> {
    pub optional: bool,
    pub wait: Option<&'a str>,
}

impl OptionalRaw<'_> {
    pub fn given(&self) -> bool {
        self.optional || self.wait.is_some()
    }
}

targeted!(
    /// The element of `click`, `check`, `uncheck`, `hover`, in its map form.
    ElementFile {}
);

/// `click: "#buy"` or `click: {selector: "#buy", optional: true}`.
#[derive(Debug)]
pub struct ElementTarget(pub ElementFile);
impl From<ElementFile> for ElementTarget {
    fn from(raw: ElementFile) -> Self {
        ElementTarget(raw)
    }
}
string_or_struct!(
    ElementTarget,
    ElementFile,
    "a CSS selector, or a map with `selector`, `xpath` or `link_text` (and `optional`)",
    |s| ElementTarget(ElementFile {
        selector: Some(s.to_string()),
        xpath: None,
        link_text: None,
        optional: false,
        optional_wait: None,
    })
);

targeted!(FillFile {
    #[serde(deserialize_with = "scalar_text")]
    value: String,
});
targeted!(SelectFile {
    #[serde(default, deserialize_with = "opt_scalar_text")]
    value: Option<String>,
    #[serde(default, deserialize_with = "opt_scalar_text")]
    label: Option<String>,
    index: Option<usize>,
});
targeted!(WaitForFile {
    #[serde(default)]
    visible: bool,
    #[serde(default, deserialize_with = "opt_scalar_text")]
    text: Option<String>,
    timeout: Option<String>,
});
targeted!(AssertTextFile {
    #[serde(default, deserialize_with = "opt_scalar_text")]
    equals: Option<String>,
    #[serde(default, deserialize_with = "opt_scalar_text")]
    contains: Option<String>,
    matches: Option<String>,
});
targeted!(AssertCountFile {
    equals: Option<usize>,
    min: Option<usize>,
    max: Option<usize>,
});
targeted!(StoreTextFile {
    #[serde(rename = "as")]
    name: String,
    metric: Option<String>,
    min: Option<f64>,
    max: Option<f64>,
    decimal: Option<String>,
});
targeted!(StoreAttrFile {
    attr: String,
    #[serde(rename = "as")]
    name: String,
    metric: Option<String>,
    min: Option<f64>,
    max: Option<f64>,
    decimal: Option<String>,
});

/// `metric:` and its limits as written, on whichever action reads the value.
#[derive(Debug, Clone, Copy)]
pub struct PublishRaw<'a> {
    pub metric: Option<&'a str>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub decimal: Option<&'a str>,
}

/// `publish()` for settings with the `metric`, `min`, `max` and `decimal` fields.
macro_rules! publishes {
    ($($name:ty),*) => {$(
        impl $name {
            pub fn publish(&self) -> PublishRaw<'_> {
                PublishRaw {
                    metric: self.metric.as_deref(),
                    min: self.min,
                    max: self.max,
                    decimal: self.decimal.as_deref(),
                }
            }
        }
    )*};
}
publishes!(StoreTextFile, StoreAttrFile, HttpStoreRaw);

/// One value an `http` action stores: a JSON path (`order.total`), or a map with `path` and
/// a `metric:` to publish it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpStoreRaw {
    pub path: String,
    pub metric: Option<String>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub decimal: Option<String>,
}
#[derive(Debug)]
pub struct HttpStoreFile(pub HttpStoreRaw);
impl From<HttpStoreRaw> for HttpStoreFile {
    fn from(raw: HttpStoreRaw) -> Self {
        HttpStoreFile(raw)
    }
}
string_or_struct!(
    HttpStoreFile,
    HttpStoreRaw,
    "a JSON path such as `order.total`, or a map with `path` and `metric`",
    |s| HttpStoreFile(HttpStoreRaw {
        path: s.to_string(),
        ..HttpStoreRaw::default()
    })
);

targeted!(PressRaw { keys: String });

/// `press: Enter` (to the focused element) or `press: {selector: ..., keys: ...}`.
#[derive(Debug)]
pub struct PressFile(pub PressRaw);
impl From<PressRaw> for PressFile {
    fn from(raw: PressRaw) -> Self {
        PressFile(raw)
    }
}
string_or_struct!(
    PressFile,
    PressRaw,
    "key names, or a map with `keys` and a selector",
    |s| PressFile(PressRaw {
        selector: None,
        xpath: None,
        link_text: None,
        optional: false,
        optional_wait: None,
        keys: s.to_string(),
    })
);

/// How a URL or title must look: `equals`, `contains` or `matches`, or a plain string (for a
/// URL the path or whole URL, for a title a text it contains).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchRaw {
    pub equals: Option<String>,
    pub contains: Option<String>,
    pub matches: Option<String>,
    pub timeout: Option<String>,
    #[serde(skip)]
    pub plain: Option<String>,
}
#[derive(Debug)]
pub struct MatchFile(pub MatchRaw);
impl From<MatchRaw> for MatchFile {
    fn from(raw: MatchRaw) -> Self {
        MatchFile(raw)
    }
}
string_or_struct!(
    MatchFile,
    MatchRaw,
    "a text to look for, or a map with `equals`, `contains` or `matches`",
    |s| MatchFile(MatchRaw {
        plain: Some(s.to_string()),
        ..MatchRaw::default()
    })
);

/// `execute: "return document.title"` or `execute: {script: ..., args: [...], as: name}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecuteRaw {
    pub script: String,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(rename = "as")]
    pub name: Option<String>,
}
#[derive(Debug)]
pub struct ExecuteFile(pub ExecuteRaw);
impl From<ExecuteRaw> for ExecuteFile {
    fn from(raw: ExecuteRaw) -> Self {
        ExecuteFile(raw)
    }
}
string_or_struct!(
    ExecuteFile,
    ExecuteRaw,
    "a JavaScript snippet, or a map with `script`",
    |s| ExecuteFile(ExecuteRaw {
        script: s.to_string(),
        ..ExecuteRaw::default()
    })
);

/// An HTTP request made by shopwatch itself (no browser cookies).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpFile {
    pub method: Option<String>,
    pub url: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub body: Option<String>,
    pub json: Option<serde_json::Value>,
    pub expect_status: Option<StatusList>,
    /// Variable name -> dotted path into the JSON response (`order.number`, `items.0.id`),
    /// or a map with `path` and `metric`.
    #[serde(default)]
    pub store: BTreeMap<String, HttpStoreFile>,
    pub timeout: Option<String>,
}

/// How messages talk about actions.
const ACTIONS: Family = Family {
    what: "action",
    example: "- click: \"#buy\"",
    needs: "an argument: `- {kind}: ...`",
    settings: false,
};

one_key_enum! {
    /// One action as written: `- click: "#pay"`, `- fill: {selector: ..., value: ...}`.
    pub enum ActionFile, ACTION_NAMES, ACTIONS {
    Open(String) = "open",
    Click(ElementTarget) = "click",
    Fill(FillFile) = "fill",
    Select(SelectFile) = "select",
    Check(ElementTarget) = "check",
    Uncheck(ElementTarget) = "uncheck",
    Press(PressFile) = "press",
    Hover(ElementTarget) = "hover",
    WaitFor(WaitForTarget) = "wait_for",
    WaitUrl(MatchFile) = "wait_url",
    AssertText(AssertTextFile) = "assert_text",
    AssertUrl(MatchFile) = "assert_url",
    AssertTitle(MatchFile) = "assert_title",
    AssertVisible(Target) = "assert_visible",
    AssertAbsent(Target) = "assert_absent",
    AssertCount(AssertCountFile) = "assert_count",
    StoreText(StoreTextFile) = "store_text",
    StoreAttr(StoreAttrFile) = "store_attr",
    Execute(ExecuteFile) = "execute",
    Screenshot(String) = "screenshot",
    Http(HttpFile) = "http",
    Sleep(String) = "sleep",
    Dialog(DialogFile) = "dialog",
    Frame(FrameFile) = "frame",
    Window(WindowFile) = "window",
    AssertWindows(usize) = "assert_windows",
    IfPresent(IfPresentFile) = "if_present",
    }
}

/// `frame: {selector: "iframe[name=card]", do: [...]}`: actions inside an iframe.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrameFile {
    pub selector: Option<String>,
    pub xpath: Option<String>,
    pub link_text: Option<String>,
    pub timeout: Option<String>,
    #[serde(rename = "do")]
    pub actions: Vec<ActionFile>,
}

/// `window: {url: {contains: /3ds}, close: by_page, do: [...]}`: actions in a popup.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowFile {
    pub url: Option<MatchFile>,
    pub close: Option<String>,
    pub timeout: Option<String>,
    #[serde(rename = "do")]
    pub actions: Vec<ActionFile>,
}

/// `if_present: {selector: "#cookie-accept", wait: 1s, do: [...]}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IfPresentFile {
    pub selector: Option<String>,
    pub xpath: Option<String>,
    pub link_text: Option<String>,
    pub wait: Option<String>,
    #[serde(rename = "do")]
    pub actions: Vec<ActionFile>,
}

impl ActionFile {
    /// The actions of a block (`frame`, `window`, `if_present`); none for the others.
    pub fn nested(&self) -> &[ActionFile] {
        match self {
            ActionFile::Frame(f) => &f.actions,
            ActionFile::Window(w) => &w.actions,
            ActionFile::IfPresent(i) => &i.actions,
            _ => &[],
        }
    }
}

/// The element keys of a block, as a [`TargetRaw`].
fn block_target(
    selector: &Option<String>,
    xpath: &Option<String>,
    link_text: &Option<String>,
) -> TargetRaw {
    TargetRaw {
        selector: selector.clone(),
        xpath: xpath.clone(),
        link_text: link_text.clone(),
    }
}

impl FrameFile {
    pub fn target(&self) -> TargetRaw {
        block_target(&self.selector, &self.xpath, &self.link_text)
    }
}

impl IfPresentFile {
    pub fn target(&self) -> TargetRaw {
        block_target(&self.selector, &self.xpath, &self.link_text)
    }
}

impl ActionFile {
    /// The `optional` keys, for the actions whose argument can have them.
    pub fn optional(&self) -> Option<OptionalRaw<'_>> {
        match self {
            ActionFile::Click(t)
            | ActionFile::Check(t)
            | ActionFile::Uncheck(t)
            | ActionFile::Hover(t) => Some(t.0.optional()),
            ActionFile::Fill(a) => Some(a.optional()),
            ActionFile::Select(a) => Some(a.optional()),
            ActionFile::Press(p) => Some(p.0.optional()),
            ActionFile::WaitFor(w) => Some(w.0.optional()),
            ActionFile::AssertText(a) => Some(a.optional()),
            ActionFile::AssertCount(a) => Some(a.optional()),
            ActionFile::StoreText(a) => Some(a.optional()),
            ActionFile::StoreAttr(a) => Some(a.optional()),
            _ => None,
        }
    }
}

/// `dialog: accept`, `dialog: dismiss`, or
/// `dialog: {accept: true, text: "Empty the cart?", type: "...", timeout: 5s}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DialogRaw {
    pub accept: Option<bool>,
    pub dismiss: Option<bool>,
    /// What the dialog must say: a text it equals, or `{equals | contains | matches}`.
    pub text: Option<DialogText>,
    /// Typed into a prompt before it is accepted.
    #[serde(rename = "type", default, deserialize_with = "opt_scalar_text")]
    pub type_text: Option<String>,
    pub timeout: Option<String>,
    /// The plain form's word (`accept` / `dismiss`), checked by validation.
    #[serde(skip)]
    pub plain: Option<String>,
}
#[derive(Debug)]
pub struct DialogFile(pub DialogRaw);
impl From<DialogRaw> for DialogFile {
    fn from(raw: DialogRaw) -> Self {
        DialogFile(raw)
    }
}
string_or_struct!(
    DialogFile,
    DialogRaw,
    "`accept` or `dismiss`, or a map with `accept: true` or `dismiss: true` and `text`, `type`, `timeout`",
    |s| DialogFile(DialogRaw {
        plain: Some(s.to_string()),
        ..DialogRaw::default()
    })
);

/// A dialog's expected text: `"Empty the cart?"` (equals, trimmed) or `{contains: cart}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DialogTextRaw {
    #[serde(default, deserialize_with = "opt_scalar_text")]
    pub equals: Option<String>,
    #[serde(default, deserialize_with = "opt_scalar_text")]
    pub contains: Option<String>,
    pub matches: Option<String>,
}
#[derive(Debug)]
pub struct DialogText(pub DialogTextRaw);
impl From<DialogTextRaw> for DialogText {
    fn from(raw: DialogTextRaw) -> Self {
        DialogText(raw)
    }
}
string_or_struct!(
    DialogText,
    DialogTextRaw,
    "the dialog's whole text, or a map with `equals`, `contains` or `matches`",
    |s| DialogText(DialogTextRaw {
        equals: Some(s.to_string()),
        ..DialogTextRaw::default()
    })
);

/// `wait_for: ".cart"` or `wait_for: {selector: ".cart", text: "1", visible: true}`.
#[derive(Debug)]
pub struct WaitForTarget(pub WaitForFile);
impl From<WaitForFile> for WaitForTarget {
    fn from(raw: WaitForFile) -> Self {
        WaitForTarget(raw)
    }
}
string_or_struct!(
    WaitForTarget,
    WaitForFile,
    "a CSS selector, or a map with a selector and `visible`, `text`, `timeout`",
    |s| WaitForTarget(WaitForFile {
        selector: Some(s.to_string()),
        xpath: None,
        link_text: None,
        optional: false,
        optional_wait: None,
        visible: false,
        text: None,
        timeout: None,
    })
);
