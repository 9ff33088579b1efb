//! A validated journey: what the runner executes. Built only by `journey::validate`.

use super::template::Template;
use regex::Regex;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Journey {
    pub name: String,
    pub file: PathBuf,
    pub base_url: url::Url,
    pub schedule: Schedule,
    pub timeout: Duration,
    pub retries: u32,
    pub browser: Browser,
    /// Extra W3C capabilities merged over shopwatch's defaults for `browser`.
    pub capabilities: serde_json::Map<String, serde_json::Value>,
    /// The size the page lays out at (`window.innerWidth` x `innerHeight`), the same in every
    /// browser.
    pub viewport: Viewport,
    pub vars: Vec<(String, Var)>,
    pub mask: Vec<Locator>,
    /// The journey's `fail_on` error elements (each step has them in its own list too).
    pub fail_on: Vec<Locator>,
    pub steps: Vec<Step>,
    /// What validation found likely wrong but loadable (said by `validate`, logged by `run`).
    pub warnings: Vec<crate::yaml::diagnostic::Diagnostic>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    Every(Duration),
    Cron(Box<crate::calendar::Cron>),
}

pub use super::publish::Publish;
pub use crate::secret::{SecretFrom, SecretSource, Var};
pub use crate::webdriver::{Browser, Viewport};

#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    pub actions: Vec<Action>,
    pub slow: Option<Duration>,
    pub timeout: Duration,
    pub always: bool,
    /// Error elements that fail the step as soon as one shows: the journey's and the step's.
    pub fail_on: Vec<Locator>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Locator {
    Css(String),
    XPath(String),
    LinkText(String),
    /// CSS through open shadow roots (`express-checkout >>> button.pay`): at least two parts,
    /// each looked up inside the shadow roots of what the one before found. Found by
    /// `journey::locate`, like every locator.
    Shadow(Vec<String>),
}

impl fmt::Display for Locator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Locator::Css(s) => write!(f, "`{s}`"),
            Locator::XPath(s) => write!(f, "xpath `{s}`"),
            Locator::LinkText(s) => write!(f, "link text `{s}`"),
            Locator::Shadow(parts) => write!(f, "`{}`", parts.join(" >>> ")),
        }
    }
}

/// How a text must look.
#[derive(Debug, Clone)]
pub enum TextMatch {
    Equals(Template),
    Contains(Template),
    Matches(Regex),
    /// A URL's path (`/cart`, with its query only when given) or the whole URL.
    Url(Template),
}

impl TextMatch {
    /// Whether `actual` matches, given the rendered template text (ignored for regexes).
    pub fn check(&self, rendered: &str, actual: &str) -> bool {
        match self {
            TextMatch::Equals(_) => actual.trim() == rendered.trim(),
            TextMatch::Contains(_) => actual.contains(rendered),
            TextMatch::Matches(re) => re.is_match(actual),
            TextMatch::Url(_) => same_url(rendered, actual),
        }
    }

    pub fn template(&self) -> Option<&Template> {
        match self {
            TextMatch::Equals(t) | TextMatch::Contains(t) | TextMatch::Url(t) => Some(t),
            TextMatch::Matches(_) => None,
        }
    }
}

impl fmt::Display for TextMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TextMatch::Equals(t) => write!(f, "equal \"{t}\""),
            TextMatch::Contains(t) => write!(f, "contain \"{t}\""),
            TextMatch::Matches(re) => write!(f, "match /{re}/"),
            TextMatch::Url(t) if t.to_string().starts_with('/') => {
                write!(f, "have the path \"{t}\"")
            }
            TextMatch::Url(t) => write!(f, "be \"{t}\""),
        }
    }
}

/// Whether `actual` is the URL `expected`, or has the path (and query, when given) `expected`.
fn same_url(expected: &str, actual: &str) -> bool {
    let Ok(actual) = url::Url::parse(actual) else {
        return false;
    };
    if expected.starts_with('/') {
        match expected.split_once('?') {
            Some((path, query)) => actual.path() == path && actual.query() == Some(query),
            None => actual.path() == expected,
        }
    } else {
        url::Url::parse(expected).is_ok_and(|expected| expected == actual)
    }
}

#[derive(Debug, Clone)]
pub enum SelectBy {
    Value(Template),
    Label(Template),
    Index(usize),
}

#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: reqwest::Method,
    pub url: Template,
    pub headers: Vec<(String, Template)>,
    pub body: Option<Template>,
    pub json: Option<serde_json::Value>,
    pub expect_status: Vec<u16>,
    pub store: Vec<HttpStore>,
    pub timeout: Option<Duration>,
}

/// A value an `http` action stores: a variable `name` from the JSON response at `path` (keys
/// and indexes), perhaps published as a metric.
#[derive(Debug, Clone)]
pub struct HttpStore {
    pub name: String,
    pub path: Vec<String>,
    pub publish: Option<Publish>,
}

/// One thing done in the page. The closed set of actions: adding one means a variant here,
/// its parsing in `journey::file`/`journey::validate` and its execution in `journey::actions`.
#[derive(Debug, Clone)]
pub enum Action {
    Open(Template),
    Click(Locator),
    Fill {
        target: Locator,
        value: Template,
    },
    Select {
        target: Locator,
        by: SelectBy,
    },
    Check(Locator),
    Uncheck(Locator),
    Press {
        target: Option<Locator>,
        keys: Vec<String>,
    },
    Hover(Locator),
    WaitFor {
        target: Locator,
        visible: bool,
        text: Option<Template>,
        timeout: Option<Duration>,
    },
    WaitUrl {
        expect: TextMatch,
        timeout: Option<Duration>,
    },
    AssertText {
        target: Locator,
        expect: TextMatch,
    },
    AssertUrl(TextMatch),
    AssertTitle(TextMatch),
    AssertVisible(Locator),
    AssertAbsent(Locator),
    AssertCount {
        target: Locator,
        min: usize,
        max: usize,
    },
    StoreText {
        target: Locator,
        name: String,
        publish: Option<Publish>,
    },
    StoreAttr {
        target: Locator,
        attr: String,
        name: String,
        publish: Option<Publish>,
    },
    Execute {
        script: String,
        args: Vec<Template>,
        store: Option<String>,
    },
    Screenshot(String),
    Http(Box<HttpRequest>),
    Sleep(Duration),
    /// Waits for an `alert`/`confirm`/`prompt`, checks its text, types into it, answers it.
    Dialog {
        accept: bool,
        text: Option<TextMatch>,
        type_text: Option<Template>,
        timeout: Option<Duration>,
    },
    /// `optional: true`: `action` runs when its element shows within `wait`, and is skipped
    /// (not failed) when it does not.
    Optional {
        action: Box<Action>,
        wait: Duration,
    },
    /// `frame`: `actions` run inside the iframe `target` (a frame inside it is another
    /// `frame`), then the parent document is current again.
    Frame {
        target: Locator,
        actions: Vec<Action>,
        /// How long to wait for the frame and its document (at most the step's time).
        timeout: Option<Duration>,
    },
    /// `window`: `actions` run in another window of the session (a 3-D Secure or PayPal
    /// popup), then the journey's window is current again.
    Window(Box<WindowBlock>),
    /// `assert_windows`: the session has this many windows (tabs included).
    AssertWindows(usize),
    /// `if_present`: `actions` run when `target` shows within `wait`; otherwise the block is
    /// skipped (reported, not failed).
    IfPresent {
        target: Locator,
        wait: Duration,
        actions: Vec<Action>,
    },
}

/// The `window` block: which window, what is done in it, and how it ends.
#[derive(Debug, Clone)]
pub struct WindowBlock {
    /// The window's URL must match this (a path, whole URL, or `contains`/`matches`); without
    /// it, the newest window other than the current one.
    pub url: Option<TextMatch>,
    pub actions: Vec<Action>,
    pub close: WindowClose,
    /// How long to wait for the window to open (at most the step's time).
    pub timeout: Option<Duration>,
}

/// What becomes of a `window` after its actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowClose {
    /// The page closes it itself (a 3-D Secure challenge does): wait for that.
    ByPage,
    /// shopwatch closes it.
    AfterDo,
    /// It stays open; the journey goes back to its window.
    Never,
}

impl WindowClose {
    pub const NAMES: &'static [&'static str] = &["by_page", "after_do", "never"];

    pub fn parse(text: &str) -> Option<WindowClose> {
        match text {
            "by_page" => Some(WindowClose::ByPage),
            "after_do" => Some(WindowClose::AfterDo),
            "never" => Some(WindowClose::Never),
            _ => None,
        }
    }
}

impl Action {
    /// A short description for reports: the action and its target, never a value.
    pub fn describe(&self) -> String {
        match self {
            Action::Open(url) => format!("open {url}"),
            Action::Click(t) => format!("click {t}"),
            Action::Fill { target, value } => format!("fill {target} with \"{value}\""),
            Action::Select { target, .. } => format!("select in {target}"),
            Action::Check(t) => format!("check {t}"),
            Action::Uncheck(t) => format!("uncheck {t}"),
            Action::Press {
                target: Some(t),
                keys,
            } => format!("press {} in {t}", super::keys::describe_keys(keys)),
            Action::Press { target: None, keys } => {
                format!("press {}", super::keys::describe_keys(keys))
            }
            Action::Hover(t) => format!("hover {t}"),
            Action::WaitFor {
                target,
                visible,
                text,
                ..
            } => {
                let state = if *visible { "visible" } else { "present" };
                match text {
                    Some(text) => format!("wait_for {target} ({state}, text \"{text}\")"),
                    None => format!("wait_for {target} ({state})"),
                }
            }
            Action::WaitUrl { expect, .. } => format!("wait_url to {expect}"),
            Action::AssertText { target, expect } => format!("assert_text {target} to {expect}"),
            Action::AssertUrl(expect) => format!("assert_url to {expect}"),
            Action::AssertTitle(expect) => format!("assert_title to {expect}"),
            Action::AssertVisible(t) => format!("assert_visible {t}"),
            Action::AssertAbsent(t) => format!("assert_absent {t}"),
            Action::AssertCount { target, .. } => format!("assert_count {target}"),
            Action::StoreText { target, name, .. } => format!("store_text {target} as {name}"),
            Action::StoreAttr {
                target, attr, name, ..
            } => {
                format!("store_attr {attr} of {target} as {name}")
            }
            Action::Execute { .. } => "execute script".to_string(),
            Action::Screenshot(name) => format!("screenshot {name}"),
            Action::Http(req) => format!("http {} {}", req.method, req.url),
            Action::Sleep(d) => format!("sleep {}", humantime::format_duration(*d)),
            Action::Dialog { accept, text, .. } => {
                let answer = if *accept { "accept" } else { "dismiss" };
                match text {
                    Some(text) => format!("dialog {answer} (text to {text})"),
                    None => format!("dialog {answer}"),
                }
            }
            Action::Optional { action, .. } => format!("{} (optional)", action.describe()),
            Action::Frame { target, .. } => format!("frame {target}"),
            Action::Window(block) => match &block.url {
                Some(url) => format!("window with URL to {url}"),
                None => "window".to_string(),
            },
            Action::AssertWindows(n) => format!("assert_windows {n}"),
            Action::IfPresent { target, .. } => format!("if_present {target}"),
        }
    }

    /// The action itself, without the `optional` around it.
    pub fn inner(&self) -> &Action {
        match self {
            Action::Optional { action, .. } => action.inner(),
            other => other,
        }
    }

    /// The element an action acts on, for those that can be `optional`.
    pub fn target(&self) -> Option<&Locator> {
        match self {
            Action::Click(t) | Action::Check(t) | Action::Uncheck(t) | Action::Hover(t) => Some(t),
            Action::Fill { target, .. } | Action::Select { target, .. } => Some(target),
            Action::Press { target, .. } => target.as_ref(),
            Action::Optional { action, .. } => action.target(),
            _ => None,
        }
    }

    /// The element an action looks for, if any (for saying which part of a shadow path is
    /// missing).
    pub fn locator(&self) -> Option<&Locator> {
        match self {
            Action::WaitFor { target, .. }
            | Action::AssertText { target, .. }
            | Action::AssertCount { target, .. }
            | Action::StoreText { target, .. }
            | Action::StoreAttr { target, .. }
            | Action::AssertVisible(target)
            | Action::AssertAbsent(target) => Some(target),
            other => other.target(),
        }
    }

    /// Whether the action needs a browser session (http and sleep do not).
    pub fn needs_browser(&self) -> bool {
        match self {
            Action::Http(_) | Action::Sleep(_) => false,
            Action::Optional { action, .. } => action.needs_browser(),
            _ => true,
        }
    }

    /// Whether the action may load a new page, after which shopwatch checks the HTTP status.
    pub fn may_navigate(&self) -> bool {
        match self {
            Action::Open(_) | Action::Click(_) | Action::Press { .. } => true,
            Action::Optional { action, .. } => action.may_navigate(),
            _ => false,
        }
    }
}

impl Action {
    /// The `${names}` this action reads.
    pub fn vars_used(&self) -> Vec<&str> {
        self.templates()
            .into_iter()
            .flat_map(|t| t.vars())
            .collect()
    }

    /// The templates this action renders.
    pub fn templates(&self) -> Vec<&Template> {
        match self {
            Action::Open(t) => vec![t],
            Action::Fill { value, .. } => vec![value],
            Action::Select {
                by: SelectBy::Value(t) | SelectBy::Label(t),
                ..
            } => vec![t],
            Action::WaitFor { text: Some(t), .. } => vec![t],
            Action::WaitUrl { expect, .. }
            | Action::AssertText { expect, .. }
            | Action::AssertUrl(expect)
            | Action::AssertTitle(expect) => expect.template().into_iter().collect(),
            Action::Execute { args, .. } => args.iter().collect(),
            Action::Dialog {
                text, type_text, ..
            } => text
                .iter()
                .filter_map(TextMatch::template)
                .chain(type_text.iter())
                .collect(),
            Action::Optional { action, .. } => action.templates(),
            Action::Window(block) => block
                .url
                .iter()
                .filter_map(TextMatch::template)
                .chain(block.actions.iter().flat_map(Action::templates))
                .collect(),
            Action::Frame { actions, .. } | Action::IfPresent { actions, .. } => {
                actions.iter().flat_map(Action::templates).collect()
            }
            Action::Http(req) => std::iter::once(&req.url)
                .chain(req.headers.iter().map(|(_, t)| t))
                .chain(req.body.iter())
                .collect(),
            _ => vec![],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::same_url;

    #[test]
    fn a_url_path_is_matched_whole() {
        let at = "http://shop.test/login?next=/cart";
        assert!(
            !same_url("/cart", at),
            "a path inside the query is not the path"
        );
        assert!(same_url("/login", at), "the query is ignored without `?`");
        assert!(same_url("/login?next=/cart", at));
        assert!(!same_url("/login?next=/", at));
        assert!(same_url("/cart", "http://shop.test/cart#top"));
        assert!(!same_url("/cart", "http://shop.test/cart/checkout"));
        assert!(same_url("http://shop.test/cart", "http://shop.test/cart"));
        assert!(!same_url("http://shop.test/cart", "http://other.test/cart"));
        assert!(!same_url("/cart", "not a url"));
    }
}
