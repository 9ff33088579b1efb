//! CSS selectors checked the way a browser reads them: Servo's `selectors` parser (the one
//! Firefox's style engine uses), told every standard pseudo-class and pseudo-element. Only what
//! a browser rejects is invalid; a pseudo-class or pseudo-element no standard names is given
//! back as unknown, for a warning: a browser may have it (vendor prefixes), a typo is likelier.

use cssparser::{CowRcStr, ParseError, ParserInput, SourceLocation, ToCss};
use selectors::parser::{self, ParseRelative, SelectorList, SelectorParseErrorKind};
use std::cell::RefCell;
use std::fmt;

/// The pseudo-classes the standards name beside those the parser knows itself (`:not`, `:is`,
/// `:where`, `:has`, `:nth-*`, `:first-child`, `:root`, `:empty`, `:scope`, `:host`).
const PSEUDO_CLASSES: &[&str] = &[
    "active",
    "any-link",
    "autofill",
    "blank",
    "buffering",
    "checked",
    "closed",
    "current",
    "default",
    "defined",
    "disabled",
    "enabled",
    "focus",
    "focus-visible",
    "focus-within",
    "fullscreen",
    "future",
    "hover",
    "in-range",
    "indeterminate",
    "invalid",
    "link",
    "local-link",
    "modal",
    "muted",
    "open",
    "optional",
    "out-of-range",
    "past",
    "paused",
    "picture-in-picture",
    "placeholder-shown",
    "playing",
    "popover-open",
    "read-only",
    "read-write",
    "required",
    "seeking",
    "stalled",
    "target",
    "target-within",
    "user-invalid",
    "user-valid",
    "valid",
    "visited",
    "volume-locked",
];

/// Pseudo-classes that take arguments.
const FUNCTIONAL_PSEUDO_CLASSES: &[&str] = &[
    "current",
    "dir",
    "has-slotted",
    "host-context",
    "lang",
    "nth-col",
    "nth-last-col",
    "state",
];

/// jQuery's own pseudo-classes: Selenium IDE and old tests use them, every browser rejects them.
const JQUERY_PSEUDO_CLASSES: &[&str] = &[
    "animated", "button", "checkbox", "contains", "eq", "even", "file", "first", "gt", "header",
    "hidden", "image", "input", "last", "lt", "odd", "parent", "password", "radio", "reset",
    "selected", "submit", "text", "visible",
];

const PSEUDO_ELEMENTS: &[&str] = &[
    "after",
    "backdrop",
    "before",
    "cue",
    "details-content",
    "file-selector-button",
    "first-letter",
    "first-line",
    "grammar-error",
    "marker",
    "placeholder",
    "selection",
    "spelling-error",
    "target-text",
    "view-transition",
];

const FUNCTIONAL_PSEUDO_ELEMENTS: &[&str] = &[
    "cue",
    "highlight",
    "view-transition-group",
    "view-transition-image-pair",
    "view-transition-new",
    "view-transition-old",
];

/// Checks `css` as a selector list. `Ok` holds the pseudo-classes and pseudo-elements no
/// standard names (`:hovr`), written as in the selector; `Err` says why a browser rejects it.
pub fn check(css: &str) -> Result<Vec<String>, String> {
    let reader = Reader::default();
    let mut input = ParserInput::new(css);
    let mut parser = cssparser::Parser::new(&mut input);
    match SelectorList::parse(&reader, &mut parser, ParseRelative::No) {
        Ok(_) => Ok(reader.unknown.into_inner()),
        Err(error) => Err(reason(&error)),
    }
}

/// What a parse error says, in words.
fn reason(error: &ParseError<'_, SelectorParseErrorKind<'_>>) -> String {
    use cssparser::{BasicParseErrorKind as Basic, ParseErrorKind as Kind};
    let at = error.location.column;
    match &error.kind {
        Kind::Basic(Basic::UnexpectedToken(token)) => {
            format!("unexpected `{}` at character {at}", token.to_css_string())
        }
        Kind::Basic(Basic::EndOfInput) => {
            "it ends too early (an unclosed bracket or quote?)".into()
        }
        Kind::Custom(SelectorParseErrorKind::UnsupportedPseudoClassOrElement(name))
            if is_jquery(name) =>
        {
            format!("`:{name}` is jQuery's, not CSS: browsers reject it")
        }
        Kind::Custom(kind) => format!("{} at character {at}", custom_words(kind)),
        Kind::Basic(other) => format!("{other:?} at character {at}"),
    }
}

fn custom_words(kind: &SelectorParseErrorKind<'_>) -> String {
    use SelectorParseErrorKind as K;
    match kind {
        K::EmptySelector => "an empty selector (a `,` with nothing after it?)".into(),
        K::DanglingCombinator => "a combinator (`>`, `+`, `~`) with nothing after it".into(),
        K::UnexpectedIdent(name) => format!("unexpected `{name}`"),
        K::ExpectedBarInAttr(_) | K::BadValueInAttr(_) | K::InvalidQualNameInAttr(_) => {
            "a malformed attribute selector (`[name=value]`)".into()
        }
        K::UnexpectedTokenInAttributeSelector(token) => format!(
            "unexpected `{}` in an attribute selector",
            token.to_css_string()
        ),
        K::ClassNeedsIdent(token) => format!(
            "a `.` must be followed by a class name, not `{}`",
            token.to_css_string()
        ),
        other => format!("{other:?}"),
    }
}

/// The parser's settings: every standard feature on, unknown names collected.
#[derive(Default)]
struct Reader {
    unknown: RefCell<Vec<String>>,
}

impl<'i> parser::Parser<'i> for Reader {
    type Impl = Standard;
    type Error = SelectorParseErrorKind<'i>;

    fn parse_slotted(&self) -> bool {
        true
    }
    fn parse_part(&self) -> bool {
        true
    }
    fn parse_nth_child_of(&self) -> bool {
        true
    }
    fn parse_is_and_where(&self) -> bool {
        true
    }
    fn parse_has(&self) -> bool {
        true
    }
    fn parse_host(&self) -> bool {
        true
    }

    fn parse_non_ts_pseudo_class(
        &self,
        location: SourceLocation,
        name: CowRcStr<'i>,
    ) -> Result<Pseudo, ParseError<'i, Self::Error>> {
        if is_jquery(&name) {
            return Err(location.new_custom_error(
                SelectorParseErrorKind::UnsupportedPseudoClassOrElement(name),
            ));
        }
        Ok(self.named(&name, PSEUDO_CLASSES, ":"))
    }

    fn parse_non_ts_functional_pseudo_class<'t>(
        &self,
        name: CowRcStr<'i>,
        arguments: &mut cssparser::Parser<'i, 't>,
        _after_part: bool,
    ) -> Result<Pseudo, ParseError<'i, Self::Error>> {
        if is_jquery(&name) {
            return Err(arguments.new_custom_error(
                SelectorParseErrorKind::UnsupportedPseudoClassOrElement(name),
            ));
        }
        skip_arguments(arguments);
        Ok(self.named(&name, FUNCTIONAL_PSEUDO_CLASSES, ":"))
    }

    fn parse_pseudo_element(
        &self,
        _location: SourceLocation,
        name: CowRcStr<'i>,
    ) -> Result<Pseudo, ParseError<'i, Self::Error>> {
        Ok(self.named(&name, PSEUDO_ELEMENTS, "::"))
    }

    fn parse_functional_pseudo_element<'t>(
        &self,
        name: CowRcStr<'i>,
        arguments: &mut cssparser::Parser<'i, 't>,
    ) -> Result<Pseudo, ParseError<'i, Self::Error>> {
        skip_arguments(arguments);
        Ok(self.named(&name, FUNCTIONAL_PSEUDO_ELEMENTS, "::"))
    }
}

impl Reader {
    /// The pseudo `name`; noted as unknown when `standard` lacks it.
    fn named(&self, name: &str, standard: &[&str], prefix: &str) -> Pseudo {
        let lower = name.to_ascii_lowercase();
        if !standard.contains(&lower.as_str()) {
            self.unknown.borrow_mut().push(format!("{prefix}{name}"));
        }
        Pseudo(lower)
    }
}

fn is_jquery(name: &str) -> bool {
    JQUERY_PSEUDO_CLASSES.contains(&name.to_ascii_lowercase().as_str())
}

/// Arguments are the browser's to read (`:lang(de)`, `:state(checked)`); consumed unread.
fn skip_arguments(arguments: &mut cssparser::Parser<'_, '_>) {
    while arguments.next().is_ok() {}
}

/// The selector types the parser needs: names kept as text, nothing matched here.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Standard;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Text(String);

impl From<&str> for Text {
    fn from(text: &str) -> Self {
        Text(text.to_string())
    }
}

impl ToCss for Text {
    fn to_css<W: fmt::Write>(&self, dest: &mut W) -> fmt::Result {
        dest.write_str(&self.0)
    }
}

impl precomputed_hash::PrecomputedHash for Text {
    fn precomputed_hash(&self) -> u32 {
        self.0
            .bytes()
            .fold(0x811c_9dc5, |h, b| (h ^ b as u32).wrapping_mul(0x0100_0193))
    }
}

/// A pseudo-class or pseudo-element, by its lower-case name.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pseudo(String);

impl ToCss for Pseudo {
    fn to_css<W: fmt::Write>(&self, dest: &mut W) -> fmt::Result {
        dest.write_str(&self.0)
    }
}

impl parser::NonTSPseudoClass for Pseudo {
    type Impl = Standard;
    fn is_active_or_hover(&self) -> bool {
        self.0 == "active" || self.0 == "hover"
    }
    fn is_user_action_state(&self) -> bool {
        matches!(self.0.as_str(), "active" | "hover" | "focus")
    }
}

impl parser::PseudoElement for Pseudo {
    type Impl = Standard;
    fn accepts_state_pseudo_classes(&self) -> bool {
        true
    }
    fn valid_after_slotted(&self) -> bool {
        true
    }
}

impl parser::SelectorImpl for Standard {
    type ExtraMatchingData<'a> = ();
    type AttrValue = Text;
    type Identifier = Text;
    type LocalName = Text;
    type NamespaceUrl = Text;
    type NamespacePrefix = Text;
    type BorrowedNamespaceUrl = Text;
    type BorrowedLocalName = Text;
    type NonTSPseudoClass = Pseudo;
    type PseudoElement = Pseudo;
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn accepts_what_browsers_accept() {
        for css in [
            "input:checked",
            "button:not(:disabled)",
            ":enabled",
            "input:focus",
            "input:required",
            "p:lang(de)",
            "li:nth-child(2 of .x)",
            "a:is(.x, .y) > b:where(.z)",
            "form:has(input:invalid)",
            "#q::placeholder",
            "my-el::part(label)",
            ":host(.dark) ::slotted(span)",
            "input[type=\"checkbox\" i]:indeterminate",
            "div:dir(rtl) + p ~ span",
            "*|a",
        ] {
            assert_eq!(check(css), Ok(vec![]), "{css}");
        }
    }

    #[test]
    fn rejects_what_browsers_reject() {
        for css in [
            "div[class=",
            "a >",
            ".",
            "a,,b",
            "#",
            "a:not(",
            "[x=1 2]",
            "button:contains('Buy')",
            "li:eq(2)",
            "div:visible",
        ] {
            assert!(check(css).is_err(), "{css} was accepted");
        }
    }

    #[test]
    fn gives_back_names_no_standard_has() {
        assert_eq!(check("a:hovr"), Ok(vec![":hovr".to_string()]));
        assert_eq!(
            check("input::-webkit-inner-spin-button, b:-moz-focusring"),
            Ok(vec![
                "::-webkit-inner-spin-button".to_string(),
                ":-moz-focusring".to_string()
            ])
        );
    }
}
