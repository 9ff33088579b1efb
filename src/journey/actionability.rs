//! Acting on an element as a person would: before `click`, `fill`, `select`, `check` and
//! `uncheck` the element is scrolled to the middle of the viewport (away from sticky bars and a
//! list's own scroll arrows), and acted on only once it is visible, enabled and not covered by
//! another element; until then, and while the driver says the click was intercepted or the
//! element not interactable, it is tried again with a fresh scroll until the step's deadline.
//! Also `select` on a custom list built from ARIA roles (`[role=combobox]` or
//! `[role=listbox]` with `[role=option]`s): open it, then click the option.

use super::actions::{find, settle, settled_read, ActionEnv, PRESS_MARK_PAGE, SETTLED};
use super::model::{Locator, SelectBy};
use super::outcome::{classify, clip, Failure, ReasonClass};
use super::recorder::Recorder;
use super::secrets::Redactor;
use crate::webdriver::Browser;
use fantoccini::actions::{InputSource, MouseActions, PointerAction, MOUSE_BUTTON_LEFT};
use fantoccini::elements::{Element, ElementRef};
use fantoccini::error::{CmdError, ErrorStatus};
use fantoccini::Client;
use serde::Deserialize;
use std::future::Future;

/// What the element must allow besides being visible and not covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    /// `click`, `check`, `uncheck`: enabled.
    Click,
    /// `fill`: enabled and not read-only.
    Fill,
    /// `select`: enabled, and a `<select>` or a custom list.
    Select,
}

impl Usage {
    fn as_str(self) -> &'static str {
        match self {
            Usage::Click => "click",
            Usage::Fill => "fill",
            Usage::Select => "select",
        }
    }
}

/// What follows a look that finds the element ready: what the look prepares for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    /// Typing (the look gives the field the focus).
    Nothing,
    /// The driver's Element Click: the look guards where its press lands.
    DriverClick,
    /// A pointer click (Chromium): the look also marks the page for
    /// [`page_settled`](super::actions::page_settled).
    PointerClick,
}

impl Next {
    fn as_str(self) -> &'static str {
        match self {
            Next::Nothing => "nothing",
            Next::DriverClick => "driver",
            Next::PointerClick => "pointer",
        }
    }
}

/// One call per try: scrolls the element into the middle of the viewport (every scrolling box
/// around it too), then says what it is and why it cannot be acted on yet, if so; a field to
/// fill that is ready gets the focus, as a person's click into it would give. The third
/// argument is the [`Next`] step: before a click the press is guarded (see `guardHit`), and
/// before a pointer click the page is also marked for
/// [`page_settled`](super::actions::page_settled) and the answer says `marked`. The hit test is at
/// the point a WebDriver click uses (the centre of the element's first box, within the
/// viewport); what is found there counts as the element when it is inside it (shadow roots
/// included) or is a `<label>` of it.
static LOOK: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!("function markPage() {{ {PRESS_MARK_PAGE} }}\n{LOOK_BODY}")
});

const LOOK_BODY: &str = r#"
var el = arguments[0], use = arguments[1], mark = arguments[2] === 'pointer', guard = arguments[2] !== 'nothing';
if (typeof el === 'string') {
  try { el = document.querySelector(el); } catch (e) { return { invalid: String(e.message || e) }; }
  if (!el) return { missing: true };
}
var out = { tag: el.tagName.toLowerCase(), role: (el.getAttribute('role') || '').toLowerCase(),
            expanded: el.getAttribute('aria-expanded') === 'true', element: el,
            empty: typeof el.value === 'string' && el.value === '' && !el.isContentEditable,
            checked: typeof el.checked === 'boolean' ? el.checked : null };
if (!el.isConnected) { out.why = 'detached'; return out; }
el.scrollIntoView({ block: 'center', inline: 'center', behavior: 'instant' });
var win = el.ownerDocument.defaultView, doc = el.ownerDocument;
function ready() {
  if (use === 'fill' && doc.activeElement !== el) el.focus({ preventScroll: true });
  if (mark) { markPage(); out.marked = true; }
  if (guard && (use === 'click' || out.role === 'combobox' || out.role === 'listbox')) guardHit();
  return out;
}
function describe(hit) {
  var cover = hit;
  while (cover.ownerSVGElement) cover = cover.ownerSVGElement;
  while (!cover.id && !cover.getAttribute('class') && cover.parentElement && cover.parentElement !== doc.body) {
    cover = cover.parentElement;
  }
  return { tag: cover.tagName.toLowerCase(), id: cover.id || '', class: cover.getAttribute('class') || '',
           text: (cover.innerText || cover.textContent || '').trim().slice(0, 400) };
}
// Between this look and the pointer's press the page may put something over the element (a
// layer the pointer's arrival opens): the first press the pointer makes is judged, and when
// it is not on the element it and the rest of that click are kept from the page, as a
// driver's own click refuses one that would land elsewhere. The settled read takes the verdict.
function guardHit() {
  if (win.__shopwatchHitGuard) win.__shopwatchHitGuard();
  win.__shopwatchMissed = null;
  var types = ['pointerdown', 'mousedown', 'pointerup', 'mouseup', 'click'], judged = false, missed = false;
  function on(e) {
    if (!e.isTrusted) return;
    if (!judged && (e.type === 'pointerdown' || e.type === 'mousedown')) {
      judged = true;
      var path = e.composedPath();
      missed = path.indexOf(el) < 0 && !path.some(function (n) { return n.tagName === 'LABEL' && n.control === el; });
      var at = path[0];
      if (missed) win.__shopwatchMissed = describe(at && at.nodeType === 1 ? at : doc.documentElement);
    }
    if (missed) { e.preventDefault(); e.stopImmediatePropagation(); }
    if (e.type === 'click') remove();
  }
  function remove() {
    types.forEach(function (t) { win.removeEventListener(t, on, true); });
    if (win.__shopwatchHitGuard === remove) win.__shopwatchHitGuard = null;
  }
  types.forEach(function (t) { win.addEventListener(t, on, true); });
  win.__shopwatchHitGuard = remove;
}
var style = win.getComputedStyle(el);
var box = Array.prototype.find.call(el.getClientRects(), function (r) { return r.width > 0 && r.height > 0; });
if (!box) { out.why = 'hidden'; out.detail = style.display === 'none' ? 'display: none' : 'it has no size'; return out; }
if (style.visibility !== 'visible') { out.why = 'hidden'; out.detail = 'visibility: ' + style.visibility; return out; }
if ((el.matches(':disabled')) || el.closest('[aria-disabled=true]')) { out.why = 'disabled'; return out; }
if (use === 'fill' && el.readOnly === true) { out.why = 'read-only'; return out; }
var left = Math.max(box.left, 0), right = Math.min(box.right, win.innerWidth);
var top = Math.max(box.top, 0), bottom = Math.min(box.bottom, win.innerHeight);
if (right <= left || bottom <= top) { out.why = 'outside'; return out; }
var x = (left + right) / 2, y = (top + bottom) / 2;
var hit = doc.elementFromPoint(x, y);
while (hit && hit.shadowRoot) {
  var inner = hit.shadowRoot.elementFromPoint(x, y);
  if (!inner || inner === hit) break;
  hit = inner;
}
if (!hit) { out.why = 'outside'; return out; }
for (var n = hit; n; n = n.parentNode || (n.nodeType === 11 ? n.host : null)) {
  if (n === el) return ready();
}
var label = hit.closest && hit.closest('label');
if (label && label.control === el) return ready();
out.why = 'covered';
out.cover = describe(hit);
return out;
"#;

/// Finds the option of a custom list: in the list the element controls (`aria-controls`,
/// `aria-owns`), the element itself when it is the listbox, else any shown listbox (lists
/// rendered at the end of the page). An option's label is its `aria-label` or text; its value
/// is its `data-value` or `value` attribute.
const FIND_OPTION: &str = r#"
var box = arguments[0], by = arguments[1], want = arguments[2];
var doc = box.ownerDocument, lists = [];
if ((box.getAttribute('role') || '').toLowerCase() === 'listbox') lists.push(box);
((box.getAttribute('aria-controls') || '') + ' ' + (box.getAttribute('aria-owns') || '')).split(/\s+/)
  .forEach(function (id) { var list = id && doc.getElementById(id); if (list && lists.indexOf(list) < 0) lists.push(list); });
if (!lists.length) {
  lists = Array.prototype.filter.call(doc.querySelectorAll('[role=listbox]'),
    function (l) { return l.getClientRects().length > 0; });
}
var options = [];
lists.forEach(function (l) { l.querySelectorAll('[role=option]').forEach(function (o) { options.push(o); }); });
function label(o) { return (o.getAttribute('aria-label') || o.innerText || o.textContent || '').trim().replace(/\s+/g, ' '); }
function value(o) { var v = o.getAttribute('data-value'); return v === null ? o.getAttribute('value') : v; }
var found = by === 'index' ? options[want]
  : options.find(function (o) { return by === 'label' ? label(o) === want.trim() : value(o) === want; });
if (found) return { option: found };
return { lists: lists.length, labels: options.slice(0, 12).map(label), count: options.length };
"#;

/// What `LOOK` found.
#[derive(Debug, Deserialize)]
pub struct Look {
    pub tag: String,
    pub role: String,
    /// `aria-expanded="true"`: a combobox whose list is open.
    pub expanded: bool,
    /// A form field whose value is empty (a `fill` need not clear it first).
    #[serde(default)]
    pub empty: bool,
    /// A checkbox's or radio button's state.
    #[serde(default)]
    pub checked: Option<bool>,
    /// The element is ready and its page marked for
    /// [`page_settled`](super::actions::page_settled): a pointer click can follow at once.
    #[serde(default)]
    marked: bool,
    /// The element, when `LOOK` found it by its CSS selector.
    #[serde(default)]
    element: Option<serde_json::Value>,
    why: Option<String>,
    detail: Option<String>,
    cover: Option<Cover>,
}

/// The element found where the click would land.
#[derive(Debug, Deserialize)]
struct Cover {
    tag: String,
    id: String,
    class: String,
    text: String,
}

impl Cover {
    /// `<div id="cookie-banner"> "We use cookies…"`: the tag with its id and class, and the
    /// start of its text (redacted).
    fn describe(&self, redactor: &Redactor) -> String {
        let mut tag = format!("<{}", self.tag);
        if !self.id.is_empty() {
            tag.push_str(&format!(" id=\"{}\"", self.id));
        }
        if !self.class.is_empty() {
            tag.push_str(&format!(" class=\"{}\"", self.class));
        }
        tag.push('>');
        let text = clip(&self.text, redactor);
        let text = text
            .chars()
            .take(60)
            .collect::<String>()
            .trim_end()
            .to_string();
        match text.is_empty() {
            true => tag,
            false if text.chars().count() < self.text.trim().chars().count() => {
                format!("{tag} \"{text}…\"")
            }
            false => format!("{tag} \"{text}\""),
        }
    }
}

impl Look {
    /// Why the element cannot be acted on yet, as "the element is ..." ends; None: it can.
    fn not_ready(&self, redactor: &Redactor) -> Option<String> {
        let why = self.why.as_deref()?;
        Some(match (why, &self.detail, &self.cover) {
            ("hidden", Some(detail), _) => format!("hidden ({detail})"),
            ("outside", ..) => "outside the viewport (it cannot be scrolled into view)".into(),
            ("detached", ..) => "no longer in the page".into(),
            ("covered", _, Some(cover)) => format!("covered by {}", cover.describe(redactor)),
            (other, ..) => other.to_string(),
        })
    }

    /// A custom list `select` can open and pick from.
    fn is_list(&self) -> bool {
        matches!(self.role.as_str(), "combobox" | "listbox")
    }
}

/// What an action looks for: an element found already, or (found and looked at in one
/// script) the first match of a CSS selector in the current document.
pub enum Found<'a> {
    Element(Element),
    Css(&'a str),
}

/// What [`look_at`] found by its selector, besides a [`Look`].
#[derive(Debug, Deserialize)]
struct Search {
    #[serde(default)]
    missing: bool,
    invalid: Option<String>,
}

/// [`look`] at what `found` names: with a selector, the element is found in the same script
/// (a round trip less than Find Element first).
async fn look_at(
    client: &Client,
    found: Found<'_>,
    usage: Usage,
    next: Next,
    doing: &str,
) -> Result<(Element, Look), Miss> {
    let css = match found {
        Found::Element(element) => {
            let seen = look(&element, usage, next)
                .await
                .map_err(|e| miss(e, doing))?;
            return Ok((element, seen));
        }
        Found::Css(css) => css,
    };
    let args = vec![
        serde_json::Value::String(css.to_string()),
        serde_json::Value::String(usage.as_str().into()),
        serde_json::Value::String(next.as_str().into()),
    ];
    let value = client
        .execute(&LOOK, args)
        .await
        .map_err(|e| miss(e, doing))?;
    let search: Search =
        serde_json::from_value(value.clone()).map_err(|e| miss(CmdError::Json(e), doing))?;
    if let Some(error) = search.invalid {
        return Err(Miss::Stop(Failure::shop(
            ReasonClass::Assertion,
            format!("{doing}: the browser refuses the selector `{css}`: {error}"),
        )));
    }
    // The failure `find` gives when the wait ends.
    if search.missing {
        return Err(Miss::Again(Failure::shop(
            ReasonClass::ElementMissing,
            format!("{doing}: no element matches `{css}`"),
        )));
    }
    let seen: Look = serde_json::from_value(value).map_err(|e| miss(CmdError::Json(e), doing))?;
    let Some(reference) = seen.element.as_ref().and_then(element_reference) else {
        let answer = serde_json::Value::String("the look script returned no element".into());
        return Err(miss(CmdError::NotW3C(answer), doing));
    };
    Ok((Element::from_element_id(client.clone(), reference), seen))
}

/// Scrolls `element` to the middle of the viewport and looks whether it can be used, and
/// prepares what comes `next` (see [`Next`]).
async fn look(element: &Element, usage: Usage, next: Next) -> Result<Look, CmdError> {
    let client = element.clone().client();
    let args = vec![
        serde_json::to_value(element).map_err(CmdError::Json)?,
        serde_json::Value::String(usage.as_str().into()),
        serde_json::Value::String(next.as_str().into()),
    ];
    let value = client.execute(&LOOK, args).await?;
    serde_json::from_value(value).map_err(CmdError::Json)
}

/// Clicks `element`, which [`when_ready`] found ready (`seen`).
///
/// In Chromium the look marked the page, and the pointer clicks at once: chromedriver's
/// Element Click repeats the look's checks, about 40 ms a click more for the same mouse
/// events. Elsewhere the driver's own click comes first: it waits for a page it starts to
/// load. But it scrolls the element to the bottom edge of the viewport before it clicks, where
/// a sticky bar or a list's scroll arrow covers it, and then refuses ("click intercepted");
/// then the element is brought back to the middle and clicked there with the pointer. After a
/// pointer click, a page it starts to load is waited for. Either way the look guarded where
/// the press lands: one that landed on something else is tried again.
pub async fn click(
    env: &ActionEnv<'_>,
    element: &Element,
    seen: &Look,
    doing: &str,
) -> Result<(), Miss> {
    if !seen.marked {
        match element.click().await {
            Err(e) if is_intercepted(&e) => {}
            Err(e) => return Err(miss(e, doing)),
            // The driver waited for what its click started. A read that fails (the click
            // discarded the frame it was in: a redirect of the whole page) is left to the
            // next action, which finds where the browser is.
            Ok(()) => {
                return match settled_read(env, doing, &READ_DRIVER_CLICKED).await {
                    Ok(missed) => landed(env, doing, missed),
                    Err(_) => Ok(()),
                };
            }
        }
        let seen = look(element, Usage::Click, Next::PointerClick)
            .await
            .map_err(|e| miss(e, doing))?;
        if let Some(why) = seen.not_ready(env.redactor) {
            return Err(Miss::Again(not_ready(doing, &why)));
        }
    }
    let pointer = MouseActions::new("mouse".to_string())
        .then(PointerAction::MoveToElement {
            element: element.clone(),
            duration: None,
            x: 0.0,
            y: 0.0,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    let client = element.clone().client();
    client
        .perform_actions(pointer)
        .await
        .map_err(|e| miss(e, doing))?;
    let missed = settled_read(env, doing, &READ_POINTER_CLICKED)
        .await
        .map_err(Miss::Stop)?;
    landed(env, doing, missed)
}

/// What the look's guard saw, read with the page (the read
/// [`perform`](super::actions::perform) then need not make): the element the press landed on
/// instead of the target, if it did.
const TAKE_MISSED: &str = "(function () { var missed = window.__shopwatchMissed || null; \
    window.__shopwatchMissed = null; if (window.__shopwatchHitGuard) window.__shopwatchHitGuard(); \
    return missed; })()";

/// After a pointer click: once the page stayed or the page it opened has loaded.
static READ_POINTER_CLICKED: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| Recorder::script_when(SETTLED, TAKE_MISSED));

/// After the driver's click, which waited for a page it opened itself.
static READ_DRIVER_CLICKED: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| Recorder::script_when("true", TAKE_MISSED));

/// What the guard saw (`missed`, read by one of the two scripts above): a press that landed
/// on something else (a layer the pointer's arrival opened) reached nothing in the page, and
/// is a miss to try again.
fn landed(env: &ActionEnv<'_>, doing: &str, missed: serde_json::Value) -> Result<(), Miss> {
    match serde_json::from_value::<Cover>(missed) {
        Ok(cover) => Err(Miss::Again(not_ready(
            doing,
            &format!(
                "covered by {} once the pointer came (the page was kept from that click)",
                cover.describe(env.redactor)
            ),
        ))),
        Err(_) => Ok(()),
    }
}

/// The driver refused a click because something else is where it would land.
fn is_intercepted(e: &CmdError) -> bool {
    e.is_element_not_interactable()
        || matches!(e, CmdError::Standard(w) if w.error == ErrorStatus::ElementClickIntercepted)
}

fn not_ready(doing: &str, why: &str) -> Failure {
    Failure::shop(
        ReasonClass::ElementMissing,
        format!("{doing}: the element is {why} (until the step timeout)"),
    )
}

/// Why one try did not act.
pub enum Miss {
    /// It may work on a later try: the failure to report if none does.
    Again(Failure),
    /// Trying again cannot help.
    Stop(Failure),
}

/// Whether a driver error may pass with time (a re-render, an overlay going away).
fn passing(e: &CmdError) -> bool {
    is_intercepted(e) || e.is_stale_element_reference() || e.is_no_such_element()
}

/// A driver error of an action as a [`Miss`].
pub fn miss(e: CmdError, doing: &str) -> Miss {
    if passing(&e) {
        Miss::Again(classify(&e, doing))
    } else {
        Miss::Stop(classify(&e, doing))
    }
}

/// Waits until the element `locate` finds (afresh at each try) can be used for `usage`, then
/// runs `act` on it; tries again, scrolling again, until the step's deadline while the element
/// is hidden, disabled, covered, or `act` misses.
pub async fn when_ready<'l, L, LF, A, AF>(
    env: &ActionEnv<'_>,
    doing: &str,
    usage: Usage,
    locate: L,
    act: A,
) -> Result<(), Failure>
where
    L: Fn() -> LF,
    LF: Future<Output = Result<Found<'l>, Miss>>,
    A: Fn(Element, Look) -> AF,
    AF: Future<Output = Result<(), Miss>>,
{
    settle!(
        env,
        doing,
        env.deadline,
        match try_once(env, doing, usage, &locate, &act).await {
            Ok(()) => Ok(()),
            Err(Miss::Again(failure)) => Err(failure),
            Err(Miss::Stop(failure)) => return Err(failure),
        },
        |failure: Failure| failure
    )
}

/// One try of [`when_ready`]: find, scroll and look, act when ready.
async fn try_once<'l, L, LF, A, AF>(
    env: &ActionEnv<'_>,
    doing: &str,
    usage: Usage,
    locate: &L,
    act: &A,
) -> Result<(), Miss>
where
    L: Fn() -> LF,
    LF: Future<Output = Result<Found<'l>, Miss>>,
    A: Fn(Element, Look) -> AF,
    AF: Future<Output = Result<(), Miss>>,
{
    let client = env.client().map_err(Miss::Stop)?;
    // What a pointer click needs: see [`click`].
    let next = match usage {
        Usage::Fill => Next::Nothing,
        _ if env.browser == Some(Browser::Chrome) => Next::PointerClick,
        _ => Next::DriverClick,
    };
    let (element, seen) = look_at(client, locate().await?, usage, next, doing).await?;
    if usage == Usage::Select && seen.tag != "select" && !seen.is_list() {
        return Err(Miss::Stop(not_a_select(doing, &seen)));
    }
    match seen.not_ready(env.redactor) {
        Some(why) => Err(Miss::Again(not_ready(doing, &why))),
        None => act(element, seen).await,
    }
}

/// [`when_ready`] for the element `target` matches.
pub async fn act_on<A, AF>(
    env: &ActionEnv<'_>,
    target: &Locator,
    doing: &str,
    usage: Usage,
    act: A,
) -> Result<(), Failure>
where
    A: Fn(Element, Look) -> AF,
    AF: Future<Output = Result<(), Miss>>,
{
    let locate = || async {
        match target {
            Locator::Css(css) => Ok(Found::Css(css)),
            other => find(env, other, doing)
                .await
                .map(Found::Element)
                .map_err(Miss::Stop),
        }
    };
    when_ready(env, doing, usage, locate, act).await
}

fn not_a_select(doing: &str, seen: &Look) -> Failure {
    let role = match seen.role.as_str() {
        "" => String::new(),
        role => format!(" with role={role}"),
    };
    Failure::shop(
        ReasonClass::Assertion,
        format!(
            "{doing}: the element is not a <select> (it is a <{}>{role}); for a custom list use the element with role=combobox that opens it, or `click` the list open and `click` its option",
            seen.tag
        ),
    )
}

/// `select`: on a `<select>`, chooses the option; on a custom list, opens it like a person
/// (a click on the combobox, unless it is open) and clicks the option.
pub async fn select(
    env: &ActionEnv<'_>,
    target: &Locator,
    by: &SelectBy,
    doing: &str,
) -> Result<(), Failure> {
    let choice = match by {
        SelectBy::Value(value) => Choice::Value(env.render(value)?),
        SelectBy::Label(label) => Choice::Label(env.render(label)?),
        SelectBy::Index(i) => Choice::Index(*i),
    };
    let list = std::sync::Mutex::new(None::<Element>);
    act_on(env, target, doing, Usage::Select, |element, seen| {
        let (choice, list) = (&choice, &list);
        async move {
            if seen.is_list() {
                if seen.role == "combobox" && !seen.expanded {
                    click(env, &element, &seen, doing).await?;
                }
                *list.lock().expect("not poisoned") = Some(element);
                return Ok(());
            }
            let chosen = match choice {
                Choice::Value(value) => element.select_by_value(value).await,
                Choice::Label(label) => element.select_by_label(label).await,
                Choice::Index(i) => element.select_by_index(*i).await,
            };
            match chosen {
                Err(e) if e.is_no_such_element() => Err(Miss::Again(Failure::shop(
                    ReasonClass::ElementMissing,
                    format!("{doing}: the <select> has no option {choice}"),
                ))),
                other => other.map_err(|e| miss(e, doing)),
            }
        }
    })
    .await?;
    let Some(list) = list.into_inner().expect("not poisoned") else {
        return Ok(());
    };
    let locate = || async {
        find_option(&list, &choice, doing, env.redactor)
            .await
            .map(Found::Element)
    };
    when_ready(
        env,
        doing,
        Usage::Click,
        locate,
        |option, seen| async move { click(env, &option, &seen, doing).await },
    )
    .await
}

/// Which option `select` chooses.
enum Choice {
    Value(String),
    Label(String),
    Index(usize),
}

impl std::fmt::Display for Choice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Choice::Value(value) => write!(f, "with value \"{value}\""),
            Choice::Label(label) => write!(f, "labelled \"{label}\""),
            Choice::Index(i) => write!(f, "at index {i}"),
        }
    }
}

/// What [`FIND_OPTION`] found: the option, or what the lists hold.
#[derive(Debug, Deserialize)]
struct Options {
    option: Option<serde_json::Value>,
    #[serde(default)]
    lists: usize,
    #[serde(default)]
    labels: Vec<String>,
    #[serde(default)]
    count: usize,
}

/// The option of the custom list `list` that `choice` names.
async fn find_option(
    list: &Element,
    choice: &Choice,
    doing: &str,
    redactor: &Redactor,
) -> Result<Element, Miss> {
    let client = list.clone().client();
    let (by, want) = match choice {
        Choice::Value(value) => ("value", serde_json::Value::from(value.as_str())),
        Choice::Label(label) => ("label", serde_json::Value::from(label.as_str())),
        Choice::Index(i) => ("index", serde_json::Value::from(*i)),
    };
    let args = vec![
        serde_json::to_value(list).map_err(|e| miss(CmdError::Json(e), doing))?,
        serde_json::Value::from(by),
        want,
    ];
    let found = client
        .execute(FIND_OPTION, args)
        .await
        .map_err(|e| miss(e, doing))?;
    let found: Options =
        serde_json::from_value(found).map_err(|e| miss(CmdError::Json(e), doing))?;
    if let Some(reference) = found.option.as_ref().and_then(element_reference) {
        return Ok(Element::from_element_id(client, reference));
    }
    let seen = match (found.lists, found.count) {
        (0, _) => "no list is open".to_string(),
        (_, 0) => "the list has no options".to_string(),
        (_, count) => {
            let labels: Vec<String> = found
                .labels
                .iter()
                .map(|l| format!("\"{}\"", clip(l, redactor)))
                .collect();
            let more = if count > labels.len() { ", …" } else { "" };
            format!("the list has {count}: {}{more}", labels.join(", "))
        }
    };
    Err(Miss::Again(Failure::shop(
        ReasonClass::ElementMissing,
        format!("{doing}: no option {choice} ({seen})"),
    )))
}

/// The WebDriver element reference in a script's result.
fn element_reference(value: &serde_json::Value) -> Option<ElementRef> {
    const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
    value
        .get(ELEMENT_KEY)
        .and_then(|id| id.as_str())
        .map(|id| ElementRef::from(id.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn look(json: serde_json::Value) -> Look {
        serde_json::from_value(json).expect("a look")
    }

    #[test]
    fn a_cover_is_named_by_its_tag_id_class_and_clipped_text() {
        let redactor = Redactor::default();
        let covered = look(serde_json::json!({
            "tag": "button", "role": "", "expanded": false, "why": "covered",
            "cover": { "tag": "div", "id": "cookie-banner", "class": "",
                       "text": "We use cookies to keep your cart and to learn which coffees you like." }
        }));
        assert_eq!(
            covered.not_ready(&redactor).as_deref(),
            Some("covered by <div id=\"cookie-banner\"> \"We use cookies to keep your cart and to learn which coffees…\"")
        );
        let arrow = look(serde_json::json!({
            "tag": "li", "role": "option", "expanded": false, "why": "covered",
            "cover": { "tag": "svg", "id": "", "class": "scroll-arrow", "text": "" }
        }));
        assert_eq!(
            arrow.not_ready(&redactor).as_deref(),
            Some("covered by <svg class=\"scroll-arrow\">")
        );
    }

    #[test]
    fn a_ready_element_has_no_reason_and_others_say_why() {
        let redactor = Redactor::default();
        let ready = look(serde_json::json!({ "tag": "button", "role": "", "expanded": false }));
        assert_eq!(ready.not_ready(&redactor), None);
        let hidden = look(serde_json::json!({
            "tag": "button", "role": "", "expanded": false, "why": "hidden", "detail": "display: none"
        }));
        assert_eq!(
            hidden.not_ready(&redactor).as_deref(),
            Some("hidden (display: none)")
        );
        let disabled = look(serde_json::json!({
            "tag": "button", "role": "", "expanded": false, "why": "disabled"
        }));
        assert_eq!(disabled.not_ready(&redactor).as_deref(), Some("disabled"));
    }

    #[test]
    fn a_div_is_not_a_select_and_the_message_says_what_to_do() {
        let div = look(serde_json::json!({ "tag": "div", "role": "", "expanded": false }));
        let failure = not_a_select("select in `#size`", &div);
        assert_eq!(failure.class, ReasonClass::Assertion);
        assert!(
            failure.reason.starts_with(
                "select in `#size`: the element is not a <select> (it is a <div>); for a custom list use"
            ),
            "{}",
            failure.reason
        );
    }

    #[test]
    fn an_element_reference_is_read_from_a_script_result() {
        let value = serde_json::json!({ "element-6066-11e4-a52e-4f735466cecf": "abc-1" });
        assert_eq!(element_reference(&value).as_deref(), Some("abc-1"));
        assert!(element_reference(&serde_json::json!({ "x": 1 })).is_none());
    }
}
