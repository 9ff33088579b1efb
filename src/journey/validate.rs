//! Turns a parsed `JourneyFile` into a typed `Journey`, collecting every problem with its
//! location instead of stopping at the first.

use super::file::*;
use super::keys;
use super::locate;
use super::model::*;
use super::template::{is_name, Template};
use crate::calendar::{parse_timezone, shortest_gap, Cron};
use crate::yaml::check::{regex_reason, Checker, MIN_INTERVAL};
use crate::yaml::diagnostic::{did_you_mean, Diagnostic, Diagnostics};
use crate::yaml::locate::LocationIndex;
use crate::yaml::scalars::http_url;
use crate::yaml::secret::var;
use crate::yaml::structure::StructureError;
use crate::yaml::{parse_structure, read_source, with_earlier};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::Duration;

/// Reads and validates one journey file.
pub fn load_journey(file: &Path) -> Result<Journey, Diagnostics> {
    parse_journey(file, &read_source(file, "journey")?)
}

/// Parses and validates journey YAML `source`, naming `file` in errors.
pub fn parse_journey(file: &Path, source: &str) -> Result<Journey, Diagnostics> {
    let (raw, index, errors) = parse_structure::<JourneyFile>(file, source, structure_diagnostic)?;
    with_earlier(errors, validate(file, raw, &index))
}

/// A structure error in a journey file: an unknown name in a `do:` item is an action.
fn structure_diagnostic(file: &Path, error: &StructureError) -> Diagnostic {
    let in_action = error.path.ends_with(']') && error.path.contains(".do[");
    error.diagnostic(file, if in_action { "action" } else { "value" })
}

const DEFAULT_EVERY: Duration = Duration::from_secs(300);
const DEFAULT_JOURNEY_TIMEOUT: Duration = Duration::from_secs(120);
const DEFAULT_STEP_TIMEOUT: Duration = Duration::from_secs(15);
/// How long an `optional: true` action waits for its element, unless told otherwise: long
/// enough for a banner a script adds, short enough to cost little when it never comes.
const DEFAULT_OPTIONAL_WAIT: Duration = Duration::from_secs(2);
/// The actions that can be `optional`: those acting on an element the page may not show.
const OPTIONAL_ACTIONS: &[&str] = &[
    "click", "fill", "select", "check", "uncheck", "hover", "press",
];
const MAX_RETRIES: u32 = 10;
/// Names every journey may use without defining them.
pub const BUILTIN_VARS: &[&str] = &["base_url", "run_id"];

impl Checker<'_> {
    fn template(&mut self, path: &str, text: &str, known: &Known) -> Template {
        match Template::parse(text) {
            Ok(template) => {
                for var in template.vars() {
                    known.check_use(self, path, var);
                }
                template
            }
            Err(message) => {
                self.error(path, message);
                Template::literal(text)
            }
        }
    }

    /// Reports "give exactly one of `a`, `b` or `c` (found ...)" unless exactly one key is given.
    fn exactly_one(&mut self, path: &str, keys: &[(&str, bool)]) -> bool {
        let given: Vec<String> = keys
            .iter()
            .filter(|(_, present)| *present)
            .map(|(key, _)| format!("`{key}`"))
            .collect();
        if given.len() == 1 {
            return true;
        }
        let names: Vec<String> = keys.iter().map(|(key, _)| format!("`{key}`")).collect();
        let (last, rest) = names.split_last().expect("at least one key");
        let found = if given.is_empty() {
            "none".to_string()
        } else {
            given.join(" and ")
        };
        self.error(
            path,
            format!(
                "give exactly one of {} or {last} (found {found})",
                rest.join(", ")
            ),
        );
        false
    }

    fn locator(&mut self, path: &str, target: &TargetRaw) -> Locator {
        let given = [
            ("selector", target.selector.is_some()),
            ("xpath", target.xpath.is_some()),
            ("link_text", target.link_text.is_some()),
        ];
        if !self.exactly_one(path, &given) {
            return Locator::Css("*".to_string());
        }
        // `click: "#buy"` has no `.selector` node: `find` falls back to the string itself.
        if let Some(css) = &target.selector {
            let path = &format!("{path}.selector");
            if let Some(parts) = locate::shadow_parts(css) {
                self.shadow_path(path, css, &parts);
                return Locator::Shadow(parts);
            }
            if css.trim().is_empty() {
                self.error(path, "empty CSS selector");
            } else {
                self.css(path, css, css);
            }
            return Locator::Css(css.clone());
        }
        if let Some(xpath) = &target.xpath {
            let path = &format!("{path}.xpath");
            if xpath.trim().is_empty() {
                self.error(path, "empty xpath");
            } else if xpath.contains(locate::PIERCE) {
                self.error_hint(
                    path,
                    format!("`>>>` in xpath `{xpath}` does not reach into a shadow root: WebDriver finds no XPath there"),
                    "write a CSS selector instead: `selector: \"host-element >>> button.pay\"`",
                );
            }
            return Locator::XPath(xpath.clone());
        }
        let text = target.link_text.clone().unwrap_or_default();
        if text.trim().is_empty() {
            self.error(&format!("{path}.link_text"), "empty link_text");
        }
        Locator::LinkText(text)
    }

    /// Checks one CSS selector (`part` of the whole selector `css`): an error when browsers
    /// reject it, a warning for a pseudo-class no standard names.
    fn css(&mut self, path: &str, css: &str, part: &str) {
        let (what, hint) = if part == css {
            (
                format!("`{css}`"),
                "check brackets and quotes; for a selector CSS cannot express, use `xpath:`",
            )
        } else {
            (
                format!("`{part}` (in `{css}`)"),
                "check brackets and quotes; each part between `>>>` is a CSS selector (WebDriver finds no XPath inside a shadow root)",
            )
        };
        match super::css::check(part) {
            Err(reason) => self.error_hint(
                path,
                format!("{what} is not a valid CSS selector: {reason}"),
                hint,
            ),
            Ok(unknown) => {
                for name in unknown {
                    self.warning_hint(
                        path,
                        format!("`{name}` in {what} is no standard pseudo-class or pseudo-element"),
                        "a browser that lacks it rejects the selector and the action fails: check the spelling",
                    );
                }
            }
        }
    }

    /// A selector that pierces shadow roots: every part a CSS selector, none empty.
    fn shadow_path(&mut self, path: &str, css: &str, parts: &[String]) {
        let hint = "write the shadow host's selector, `>>>`, then a selector inside its shadow root, e.g. `express-checkout >>> button.pay`";
        if let Some(empty) = parts.iter().position(String::is_empty) {
            let place = match empty {
                0 => "before the first `>>>`: name the shadow host".to_string(),
                i if i == parts.len() - 1 => {
                    "after the last `>>>`: name the element inside the shadow root".to_string()
                }
                _ => "between two `>>>`".to_string(),
            };
            self.error_hint(path, format!("`{css}` has no selector {place}"), hint);
            return;
        }
        for part in parts {
            self.css(path, css, part);
        }
    }

    /// A URL expectation. The plain form is a path (`/cart`, compared whole, the query only
    /// when it has one) or a whole URL: "contains" would pass `/cart` on `/login?next=/cart`.
    fn url_match(&mut self, path: &str, raw: &MatchRaw, known: &Known) -> TextMatch {
        let Some(plain) = &raw.plain else {
            return self.text_match(path, &raw.equals, &raw.contains, &raw.matches, known);
        };
        if !(plain.starts_with('/') || plain.starts_with("${") || plain.contains("://")) {
            self.error_hint(
                path,
                format!("`{plain}` is neither a path nor a URL"),
                format!(
                    "write the path (`/{plain}`), the whole URL, or `{{contains: {plain}}}` for part of it"
                ),
            );
        }
        TextMatch::Url(self.template(path, plain, known))
    }

    fn text_match(
        &mut self,
        path: &str,
        equals: &Option<String>,
        contains: &Option<String>,
        matches: &Option<String>,
        known: &Known,
    ) -> TextMatch {
        self.exactly_one(
            path,
            &[
                ("equals", equals.is_some()),
                ("contains", contains.is_some()),
                ("matches", matches.is_some()),
            ],
        );
        if let Some(text) = equals {
            return TextMatch::Equals(self.template(&format!("{path}.equals"), text, known));
        }
        if let Some(text) = contains {
            return TextMatch::Contains(self.template(&format!("{path}.contains"), text, known));
        }
        if let Some(pattern) = matches {
            match regex::Regex::new(pattern) {
                Ok(re) => return TextMatch::Matches(re),
                Err(e) => self.error(
                    &format!("{path}.matches"),
                    format!(
                        "`{pattern}` is not a valid regex: {}",
                        regex_reason(&e.to_string())
                    ),
                ),
            }
        }
        TextMatch::Contains(Template::literal(""))
    }

    /// `path` is the `as:` value holding the name, or with `at_key` the mapping entry it keys.
    fn store_name(&mut self, path: &str, name: &str, known: &mut Known, at_key: bool) -> String {
        if !is_name(name) {
            let message = format!("`{name}` cannot be stored as a variable");
            let hint = "use letters, digits and `_`, starting with a letter";
            if at_key {
                self.key_error(path, message, Some(hint));
            } else {
                self.error_hint(path, message, hint);
            }
        }
        known.define(name);
        name.to_string()
    }

    /// `metric:` with its limits at `path` (the action's settings), if given.
    fn publish(&mut self, path: &str, raw: PublishRaw<'_>, known: &mut Known) -> Option<Publish> {
        let Some(metric) = raw.metric else {
            for (key, given) in [
                ("min", raw.min.is_some()),
                ("max", raw.max.is_some()),
                ("decimal", raw.decimal.is_some()),
            ] {
                if given {
                    self.error_hint(
                        &format!("{path}.{key}"),
                        format!("`{key}` applies to a published value, and there is no `metric`"),
                        "add `metric: NAME` to publish the number read as shopwatch_journey_value",
                    );
                }
            }
            return None;
        };
        if !super::publish::valid_metric_name(metric) {
            self.error_hint(
                &format!("{path}.metric"),
                format!("`{metric}` cannot name a metric"),
                "use letters, digits and `_`, starting with a letter, e.g. `cart_total`",
            );
        } else if !known.published.insert(metric.to_string()) {
            self.error_hint(
                &format!("{path}.metric"),
                format!("step `{}` publishes `{metric}` twice", known.step),
                "give each value its own metric name",
            );
        }
        if let (Some(min), Some(max)) = (raw.min, raw.max) {
            if min > max {
                self.error(
                    &format!("{path}.min"),
                    format!("min {min} is more than max {max}"),
                );
            }
        }
        let decimal = raw.decimal.and_then(|d| match d {
            "." => Some('.'),
            "," => Some(','),
            other => {
                self.error_hint(
                    &format!("{path}.decimal"),
                    format!("`{other}` is not a decimal separator"),
                    "write `decimal: \".\"` or `decimal: \",\"`",
                );
                None
            }
        });
        Some(Publish {
            metric: metric.to_string(),
            min: raw.min,
            max: raw.max,
            decimal,
        })
    }
}

/// Names that have a value at a point of the journey, and which step defines each later one.
struct Known {
    names: HashSet<String>,
    later: BTreeMap<String, String>,
    step: String,
    /// Metric names published in the current step.
    published: HashSet<String>,
}

impl Known {
    fn define(&mut self, name: &str) {
        self.names.insert(name.to_string());
    }

    fn check_use(&self, checker: &mut Checker, path: &str, var: &str) {
        if self.names.contains(var) {
            return;
        }
        match self.later.get(var) {
            Some(step) => checker.error_hint(
                path,
                format!(
                    "`${{{var}}}` is used in step `{}` before it is stored",
                    self.step
                ),
                format!("step `{step}` stores `{var}` later: move this action after it"),
            ),
            None => {
                let names = self.names.iter().map(String::as_str);
                let hint = match did_you_mean(var, names) {
                    Some(close) => format!("did you mean `${{{close}}}`?"),
                    None => format!("define `{var}` under `vars:` or store it with `store_text`/`store_attr`/`execute`/`http`"),
                };
                checker.error_hint(
                    path,
                    format!(
                        "`${{{var}}}` is used in step `{}` but never defined",
                        self.step
                    ),
                    hint,
                )
            }
        }
    }
}

/// Names stored from action `j` of step `i` on, each with the first step that stores it.
fn stored_from(steps: &[StepFile], i: usize, j: usize) -> BTreeMap<String, String> {
    let this_step = steps[i].actions[j..]
        .iter()
        .map(|action| (action, &steps[i].step));
    let later_steps = steps[i + 1..]
        .iter()
        .flat_map(|step| step.actions.iter().map(move |action| (action, &step.step)));
    let mut stored = BTreeMap::new();
    for (action, step) in this_step.chain(later_steps) {
        for name in stored_names(action) {
            stored.entry(name).or_insert_with(|| step.clone());
        }
    }
    stored
}

/// Names stored by an action (or inside a block), for the "stored later" hint.
fn stored_names(action: &ActionFile) -> Vec<String> {
    match action {
        ActionFile::Frame(_) | ActionFile::Window(_) | ActionFile::IfPresent(_) => {
            action.nested().iter().flat_map(stored_names).collect()
        }
        ActionFile::StoreText(a) => vec![a.name.clone()],
        ActionFile::StoreAttr(a) => vec![a.name.clone()],
        ActionFile::Execute(a) => a.0.name.iter().cloned().collect(),
        ActionFile::Http(a) => a.store.keys().cloned().collect(),
        _ => vec![],
    }
}

/// Validates `raw` (parsed from `file`) into a Journey, or every problem found.
pub fn validate(
    file: &Path,
    raw: JourneyFile,
    index: &LocationIndex,
) -> Result<Journey, Vec<Diagnostic>> {
    let mut c = Checker::new(file, index);

    c.name("journey", "journey", &raw.journey);
    let base_url = http_url("base_url", &raw.base_url).unwrap_or_else(|problem| {
        c.error_hint(
            "base_url",
            problem,
            "write a full URL such as `https://shop.example.com`",
        );
        url::Url::parse("http://invalid.invalid/").expect("static URL parses")
    });

    let timezone = raw.timezone.as_deref().and_then(|name| {
        if raw.cron.is_none() {
            c.error_hint(
                "timezone",
                "`timezone` is for `cron` times, and this journey has no `cron`",
                "remove `timezone` (an `every` schedule counts from the start, in no time zone), or schedule with `cron:`",
            );
        }
        parse_timezone(name)
            .map_err(|e| c.error_hint("timezone", e, crate::calendar::TIMEZONE_HINT))
            .ok()
    });
    let schedule = match (&raw.every, &raw.cron) {
        (Some(_), Some(_)) => {
            c.error("cron", "give `every` or `cron`, not both");
            Schedule::Every(DEFAULT_EVERY)
        }
        (Some(every), None) => match c.duration("every", every) {
            Some(d) if d < MIN_INTERVAL => {
                c.error(
                    "every",
                    format!("`every: {every}` is shorter than the 10s minimum"),
                );
                Schedule::Every(d)
            }
            Some(d) => Schedule::Every(d),
            None => Schedule::Every(DEFAULT_EVERY),
        },
        (None, Some(expr)) => match Cron::parse(expr, timezone.unwrap_or(chrono_tz::Tz::UTC)) {
            Ok(schedule) => {
                // A date that never comes (`0 9 30 2 *`), or six-field cron's seconds
                // getting round the minimum.
                if schedule.upcoming().next().is_none() {
                    c.error(
                        "cron",
                        format!("`cron: {expr}` never runs: no date matches it"),
                    );
                } else if shortest_gap(&schedule).is_some_and(|gap| gap < MIN_INTERVAL) {
                    c.error(
                        "cron",
                        format!("`cron: {expr}` runs more often than the 10s minimum"),
                    );
                } else {
                    c.rare_schedule("cron", expr, &schedule);
                }
                Schedule::Cron(Box::new(schedule))
            }
            Err(e) => {
                c.error_hint(
                    "cron",
                    format!("`{expr}` is not a cron expression: {e}"),
                    "five fields: minute hour day-of-month month day-of-week, e.g. `*/5 * * * *`",
                );
                Schedule::Every(DEFAULT_EVERY)
            }
        },
        (None, None) => Schedule::Every(DEFAULT_EVERY),
    };

    let timeout = c
        .opt_duration("timeout", &raw.timeout)
        .unwrap_or(DEFAULT_JOURNEY_TIMEOUT);
    let retries = raw.retries.unwrap_or(0);
    if retries > MAX_RETRIES {
        c.error(
            "retries",
            format!("retries: {retries} is more than the maximum of {MAX_RETRIES}"),
        );
    }

    let browser = browser(&mut c, &raw);
    let capabilities = raw.capabilities.clone().unwrap_or_default();
    let viewport = match &raw.viewport {
        Some(text) => Viewport::parse(text).unwrap_or_else(|problem| {
            c.error_hint(
                "viewport",
                format!("`viewport: {text}` {problem}"),
                format!(
                    "write WIDTHxHEIGHT in CSS pixels, from {min} to {max} each, e.g. `viewport: 1280x800`",
                    min = Viewport::MIN,
                    max = Viewport::MAX
                ),
            );
            Viewport::default()
        }),
        None => Viewport::default(),
    };

    let mut known = Known {
        names: BUILTIN_VARS.iter().map(|s| s.to_string()).collect(),
        later: BTreeMap::new(),
        step: String::new(),
        published: HashSet::new(),
    };
    let mut vars = Vec::new();
    for (name, value) in &raw.vars {
        let path = format!("vars.{name}");
        if !is_name(name) {
            c.key_error(
                &path,
                format!("variable name `{name}` is not allowed"),
                Some("use letters, digits and `_`, starting with a letter"),
            );
        }
        if BUILTIN_VARS.contains(&name.as_str()) {
            c.key_error(
                &path,
                format!("`{name}` is built in and cannot be redefined"),
                None,
            );
        }
        known.define(name);
        vars.push((name.clone(), var(&mut c, &path, value)));
    }

    let locators = |c: &mut Checker, key: &str, targets: &[Target]| -> Vec<Locator> {
        targets
            .iter()
            .enumerate()
            .map(|(i, target)| c.locator(&format!("{key}[{i}]"), &target.0))
            .collect()
    };
    let mask = locators(&mut c, "mask", &raw.mask);
    let fail_on = locators(&mut c, "fail_on", &raw.fail_on);

    let default_slow = c.opt_duration("defaults.slow", &raw.defaults.slow);
    let default_timeout = c
        .opt_duration("defaults.timeout", &raw.defaults.timeout)
        .unwrap_or(DEFAULT_STEP_TIMEOUT);
    let default_optional_wait = c
        .opt_duration("defaults.optional_wait", &raw.defaults.optional_wait)
        .unwrap_or(DEFAULT_OPTIONAL_WAIT);

    if raw.steps.is_empty() {
        c.error("steps", "a journey needs at least one step");
    }
    let mut seen_steps = HashSet::new();
    let mut steps = Vec::new();
    for (i, step) in raw.steps.iter().enumerate() {
        known.step = step.step.clone();
        known.published.clear();
        let path = format!("steps[{i}]");
        c.name(&format!("{path}.step"), "step", &step.step);
        if !seen_steps.insert(step.step.clone()) {
            c.error(
                &format!("{path}.step"),
                format!(
                    "step name `{}` is used twice; step names must be unique",
                    step.step
                ),
            );
        }
        if step.actions.is_empty() {
            c.error(
                &format!("{path}.do"),
                format!("step `{}` has no actions", step.step),
            );
        }
        let slow = c
            .opt_duration(&format!("{path}.slow"), &step.slow)
            .or(default_slow);
        let step_timeout = c
            .opt_duration(&format!("{path}.timeout"), &step.timeout)
            .unwrap_or(default_timeout);
        let actions = step
            .actions
            .iter()
            .enumerate()
            .map(|(j, action)| {
                // Names stored from here on, for the hint on a use before its store.
                known.later = stored_from(&raw.steps, i, j);
                let action_path = format!("{path}.do[{j}].{}", action.kind());
                self::action(
                    &mut c,
                    &action_path,
                    action,
                    &mut known,
                    default_optional_wait,
                )
            })
            .collect();
        let mut step_fail_on = fail_on.clone();
        step_fail_on.extend(locators(&mut c, &format!("{path}.fail_on"), &step.fail_on));
        steps.push(Step {
            name: step.step.clone(),
            actions,
            slow,
            timeout: step_timeout,
            always: step.always,
            fail_on: step_fail_on,
        });
    }

    if c.errors.is_empty() {
        Ok(Journey {
            name: raw.journey,
            file: file.to_path_buf(),
            base_url,
            schedule,
            timeout,
            retries,
            browser,
            capabilities,
            viewport,
            vars,
            mask,
            fail_on,
            steps,
            warnings: c.warnings,
        })
    } else {
        Err(c.errors)
    }
}

fn browser(c: &mut Checker, raw: &JourneyFile) -> Browser {
    let named = raw
        .browser
        .as_deref()
        .map(|name| match Browser::parse(name) {
            Some(b) => b,
            None => {
                let hint = match did_you_mean(name, Browser::NAMES.iter().copied()) {
                    Some(close) => format!("did you mean `{close}`?"),
                    None => "use `firefox` or `chrome`, or give W3C `capabilities`".to_string(),
                };
                c.error_hint("browser", format!("unknown browser `{name}`"), hint);
                Browser::Firefox
            }
        });
    let from_caps = raw
        .capabilities
        .as_ref()
        .and_then(|caps| caps.get("browserName"))
        .map(|name| match name.as_str().and_then(Browser::parse) {
            Some(b) => b,
            None => {
                c.error(
                    "capabilities.browserName",
                    format!("capabilities.browserName {name} is not supported: use \"firefox\" or \"chrome\""),
                );
                Browser::Firefox
            }
        });
    match (named, from_caps) {
        (Some(a), Some(b)) if a != b => {
            c.error(
                "capabilities.browserName",
                format!(
                    "capabilities.browserName says {} but browser says {}",
                    b.name(),
                    a.name()
                ),
            );
            a
        }
        (Some(b), _) | (None, Some(b)) => b,
        (None, None) => Browser::Firefox,
    }
}

/// One action, wrapped in [`Action::Optional`] when it says `optional: true`.
fn action(
    c: &mut Checker,
    path: &str,
    file: &ActionFile,
    known: &mut Known,
    default_wait: Duration,
) -> Action {
    let inner = plain_action(c, path, file, known, default_wait);
    let Some(optional) = file.optional().filter(|o| o.given()) else {
        return inner;
    };
    let kind = file.kind();
    if !OPTIONAL_ACTIONS.contains(&kind) {
        let key = if optional.optional {
            "optional"
        } else {
            "optional_wait"
        };
        c.error_hint(
            &format!("{path}.{key}"),
            format!("`{kind}` cannot be optional"),
            format!(
                "`optional` is for actions on an element the page may not show: {}; for a shorter wait give `wait_for` a `timeout`",
                OPTIONAL_ACTIONS.join(", ")
            ),
        );
        return inner;
    }
    if !optional.optional {
        c.error(
            &format!("{path}.optional_wait"),
            "`optional_wait` needs `optional: true`",
        );
        return inner;
    }
    if inner.target().is_none() {
        c.error(
            &format!("{path}.optional"),
            "an optional `press` needs the element it waits for: give `selector`, `xpath` or `link_text`",
        );
        return inner;
    }
    let wait = match optional.wait {
        Some(text) => c
            .duration(&format!("{path}.optional_wait"), text)
            .unwrap_or(default_wait),
        None => default_wait,
    };
    Action::Optional {
        action: Box::new(inner),
        wait,
    }
}

fn dialog(c: &mut Checker, path: &str, d: &DialogRaw, known: &mut Known) -> Action {
    let accept = match d.plain.as_deref() {
        Some("accept") => true,
        Some("dismiss") => false,
        Some(other) => {
            let hint = match did_you_mean(other, ["accept", "dismiss"]) {
                Some(close) => format!("did you mean `{close}`?"),
                None => "write `dialog: accept`, `dialog: dismiss`, or a map such as `{accept: true, text: \"Empty the cart?\"}`".to_string(),
            };
            c.error_hint(
                path,
                format!("`dialog: {other}` is neither `accept` nor `dismiss`"),
                hint,
            );
            true
        }
        None => {
            for (key, value) in [("accept", d.accept), ("dismiss", d.dismiss)] {
                if value == Some(false) {
                    c.error(
                        &format!("{path}.{key}"),
                        format!(
                            "`{key}: false` says nothing: write `accept: true` or `dismiss: true`"
                        ),
                    );
                }
            }
            c.exactly_one(
                path,
                &[
                    ("accept", d.accept.is_some()),
                    ("dismiss", d.dismiss.is_some()),
                ],
            );
            d.dismiss.is_none()
        }
    };
    let text = d.text.as_ref().map(|t| {
        let t = &t.0;
        c.text_match(
            &format!("{path}.text"),
            &t.equals,
            &t.contains,
            &t.matches,
            known,
        )
    });
    let type_text = d.type_text.as_ref().map(|t| {
        if !accept {
            c.error(
                &format!("{path}.type"),
                "`type` fills a prompt that is accepted; a dismissed prompt drops it: write `accept: true`",
            );
        }
        c.template(&format!("{path}.type"), t, known)
    });
    Action::Dialog {
        accept,
        text,
        type_text,
        timeout: c.opt_duration(&format!("{path}.timeout"), &d.timeout),
    }
}

/// How deep blocks (`frame`, `window`, `if_present`) may nest: a payment iframe inside a frame
/// inside a popup is three.
const MAX_BLOCK_DEPTH: usize = 5;

/// The `do:` list of a block at `path`.
fn block_actions(
    c: &mut Checker,
    path: &str,
    files: &[ActionFile],
    known: &mut Known,
    default_wait: Duration,
) -> Vec<Action> {
    let kind = path.rsplit('.').next().unwrap_or(path);
    if files.is_empty() {
        c.error(
            &format!("{path}.do"),
            format!("`{kind}` has no actions in `do`"),
        );
    }
    if path.matches(".do[").count() > MAX_BLOCK_DEPTH {
        c.error(
            path,
            format!("blocks nest more than {MAX_BLOCK_DEPTH} deep here"),
        );
        return Vec::new();
    }
    files
        .iter()
        .enumerate()
        .map(|(k, file)| {
            let path = format!("{path}.do[{k}].{}", file.kind());
            action(c, &path, file, known, default_wait)
        })
        .collect()
}

fn window(
    c: &mut Checker,
    path: &str,
    w: &WindowFile,
    known: &mut Known,
    default_wait: Duration,
) -> Action {
    let url = w.url.as_ref().map(|m| {
        if m.0.timeout.is_some() {
            c.key_error(
                &format!("{path}.url.timeout"),
                "`timeout` is not part of the window's URL",
                Some("put `timeout` beside `url`: it bounds the wait for the window to open"),
            );
        }
        c.url_match(&format!("{path}.url"), &m.0, known)
    });
    let close = match w.close.as_deref() {
        None => WindowClose::ByPage,
        Some(text) => WindowClose::parse(text).unwrap_or_else(|| {
            let hint = match did_you_mean(text, WindowClose::NAMES.iter().copied()) {
                Some(close) => format!("did you mean `{close}`?"),
                None => "`by_page` (the page closes it: wait for that), `after_do` (shopwatch closes it) or `never` (it stays open)".to_string(),
            };
            c.error_hint(
                &format!("{path}.close"),
                format!("`close: {text}` is not a way to end a window"),
                hint,
            );
            WindowClose::ByPage
        }),
    };
    Action::Window(Box::new(WindowBlock {
        url,
        close,
        timeout: c.opt_duration(&format!("{path}.timeout"), &w.timeout),
        actions: block_actions(c, path, &w.actions, known, default_wait),
    }))
}

fn plain_action(
    c: &mut Checker,
    path: &str,
    action: &ActionFile,
    known: &mut Known,
    default_wait: Duration,
) -> Action {
    match action {
        ActionFile::Frame(f) => Action::Frame {
            target: c.locator(path, &f.target()),
            timeout: c.opt_duration(&format!("{path}.timeout"), &f.timeout),
            actions: block_actions(c, path, &f.actions, known, default_wait),
        },
        ActionFile::Window(w) => window(c, path, w, known, default_wait),
        ActionFile::AssertWindows(n) => {
            if *n == 0 {
                c.error(
                    path,
                    "`assert_windows: 0` can never hold: the journey's own window is always open",
                );
            }
            Action::AssertWindows(*n)
        }
        ActionFile::IfPresent(i) => Action::IfPresent {
            target: c.locator(path, &i.target()),
            wait: match &i.wait {
                Some(text) => c
                    .duration(&format!("{path}.wait"), text)
                    .unwrap_or(default_wait),
                None => default_wait,
            },
            actions: block_actions(c, path, &i.actions, known, default_wait),
        },
        ActionFile::Open(url) => Action::Open(c.template(path, url, known)),
        ActionFile::Click(t) => Action::Click(c.locator(path, &t.0.target())),
        ActionFile::Fill(a) => Action::Fill {
            target: c.locator(path, &a.target()),
            value: c.template(&format!("{path}.value"), &a.value, known),
        },
        ActionFile::Select(a) => {
            let target = c.locator(path, &a.target());
            let by = match (&a.value, &a.label, a.index) {
                (Some(v), None, None) => {
                    SelectBy::Value(c.template(&format!("{path}.value"), v, known))
                }
                (None, Some(l), None) => {
                    SelectBy::Label(c.template(&format!("{path}.label"), l, known))
                }
                (None, None, Some(i)) => SelectBy::Index(i),
                _ => {
                    c.exactly_one(
                        path,
                        &[
                            ("value", a.value.is_some()),
                            ("label", a.label.is_some()),
                            ("index", a.index.is_some()),
                        ],
                    );
                    SelectBy::Index(0)
                }
            };
            Action::Select { target, by }
        }
        ActionFile::Check(t) => Action::Check(c.locator(path, &t.0.target())),
        ActionFile::Uncheck(t) => Action::Uncheck(c.locator(path, &t.0.target())),
        ActionFile::Press(p) => {
            let raw = &p.0;
            let has_target =
                raw.selector.is_some() || raw.xpath.is_some() || raw.link_text.is_some();
            let target = has_target.then(|| c.locator(path, &raw.target()));
            // `press: Entr` has no `.keys` node: `find` falls back to the string itself.
            let keys_path = format!("{path}.keys");
            let keys = keys::parse_keys(&raw.keys).unwrap_or_else(|e| {
                let list = format!(
                    "named keys: {}; or a single character; join a chord with `+`",
                    keys::key_names().collect::<Vec<_>>().join(", ")
                );
                // "unknown key `Entr`" would read like a YAML key: name the keyboard key.
                let unknown = raw
                    .keys
                    .split_whitespace()
                    .flat_map(|chord| chord.split('+'))
                    .find(|key| !key.is_empty() && keys::parse_keys(key).is_err());
                match unknown {
                    Some(key) => {
                        let hint = match did_you_mean(key, keys::key_names()) {
                            Some(close) => format!("did you mean `{close}`?"),
                            None => list,
                        };
                        c.error_hint(
                            &keys_path,
                            format!("unknown key name `{key}` in `press`"),
                            hint,
                        )
                    }
                    None => c.error_hint(&keys_path, e, list),
                }
                Vec::new()
            });
            Action::Press { target, keys }
        }
        ActionFile::Hover(t) => Action::Hover(c.locator(path, &t.0.target())),
        ActionFile::WaitFor(w) => {
            let w = &w.0;
            Action::WaitFor {
                target: c.locator(path, &w.target()),
                visible: w.visible,
                text: w
                    .text
                    .as_ref()
                    .map(|t| c.template(&format!("{path}.text"), t, known)),
                timeout: c.opt_duration(&format!("{path}.timeout"), &w.timeout),
            }
        }
        ActionFile::WaitUrl(m) => Action::WaitUrl {
            expect: c.url_match(path, &m.0, known),
            timeout: c.opt_duration(&format!("{path}.timeout"), &m.0.timeout),
        },
        ActionFile::AssertText(a) => Action::AssertText {
            target: c.locator(path, &a.target()),
            expect: c.text_match(path, &a.equals, &a.contains, &a.matches, known),
        },
        ActionFile::AssertUrl(m) | ActionFile::AssertTitle(m) => {
            if m.0.timeout.is_some() {
                c.error(
                    &format!("{path}.timeout"),
                    format!(
                        "`{}` looks until the step's timeout and takes no timeout of its own; use `wait_url` for a shorter wait",
                        action.kind()
                    ),
                );
            }
            if matches!(action, ActionFile::AssertUrl(_)) {
                Action::AssertUrl(c.url_match(path, &m.0, known))
            } else {
                let contains = m.0.contains.clone().or(m.0.plain.clone());
                Action::AssertTitle(c.text_match(path, &m.0.equals, &contains, &m.0.matches, known))
            }
        }
        ActionFile::AssertVisible(t) => Action::AssertVisible(c.locator(path, &t.0)),
        ActionFile::AssertAbsent(t) => Action::AssertAbsent(c.locator(path, &t.0)),
        ActionFile::AssertCount(a) => {
            let target = c.locator(path, &a.target());
            let (min, max) = match (a.equals, a.min, a.max) {
                (Some(n), None, None) => (n, n),
                (None, min, max) if min.is_some() || max.is_some() => {
                    (min.unwrap_or(0), max.unwrap_or(usize::MAX))
                }
                _ => {
                    c.error(path, "give `equals`, or `min` and/or `max`");
                    (0, usize::MAX)
                }
            };
            if min > max {
                c.error(
                    &format!("{path}.min"),
                    format!("min {min} is more than max {max}"),
                );
            }
            Action::AssertCount { target, min, max }
        }
        ActionFile::StoreText(a) => Action::StoreText {
            target: c.locator(path, &a.target()),
            name: c.store_name(&format!("{path}.as"), &a.name, known, false),
            publish: c.publish(path, a.publish(), known),
        },
        ActionFile::StoreAttr(a) => Action::StoreAttr {
            target: c.locator(path, &a.target()),
            attr: a.attr.clone(),
            name: c.store_name(&format!("{path}.as"), &a.name, known, false),
            publish: c.publish(path, a.publish(), known),
        },
        ActionFile::Execute(e) => {
            let e = &e.0;
            if e.script.trim().is_empty() {
                c.error(path, "empty script");
            }
            let args = e
                .args
                .iter()
                .enumerate()
                .map(|(i, arg)| c.template(&format!("{path}.args[{i}]"), arg, known))
                .collect();
            let store = e
                .name
                .as_ref()
                .map(|name| c.store_name(&format!("{path}.as"), name, known, false));
            Action::Execute {
                script: e.script.clone(),
                args,
                store,
            }
        }
        ActionFile::Screenshot(name) => {
            if name.is_empty()
                || !name
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.'))
            {
                c.error(path, format!("screenshot name `{name}` must be letters, digits, `-`, `_` or `.` (it becomes a file name)"));
            }
            Action::Screenshot(name.clone())
        }
        ActionFile::Http(h) => Action::Http(Box::new(http(c, path, h, known))),
        ActionFile::Sleep(text) => Action::Sleep(c.duration(path, text).unwrap_or_default()),
        ActionFile::Dialog(d) => dialog(c, path, &d.0, known),
    }
}

fn http(c: &mut Checker, path: &str, h: &HttpFile, known: &mut Known) -> HttpRequest {
    let method = c.http_method(&format!("{path}.method"), h.method.as_deref());
    let url = c.template(&format!("{path}.url"), &h.url, known);
    let headers = h
        .headers
        .iter()
        .map(|(name, value)| {
            c.header_name(&format!("{path}.headers.{name}"), name);
            (
                name.clone(),
                c.template(&format!("{path}.headers.{name}"), value, known),
            )
        })
        .collect();
    if h.body.is_some() && h.json.is_some() {
        c.error(path, "give `body` or `json`, not both");
    }
    let body = h
        .body
        .as_ref()
        .map(|b| c.template(&format!("{path}.body"), b, known));
    let expect_status = c.status_codes(&format!("{path}.expect_status"), &h.expect_status);
    let timeout = c.opt_duration(&format!("{path}.timeout"), &h.timeout);
    let store = h
        .store
        .iter()
        .map(|(name, stored)| {
            let at = format!("{path}.store.{name}");
            let name = c.store_name(&at, name, known, true);
            let json_path = &stored.0.path;
            let keys = json_path.split('.').map(str::to_string).collect::<Vec<_>>();
            if keys.iter().any(String::is_empty) {
                c.error(&at, format!("`{json_path}` is not a JSON path: write keys and indexes joined by dots, e.g. `order.items.0.id`"));
            }
            HttpStore {
                name,
                path: keys,
                publish: c.publish(&at, stored.0.publish(), known),
            }
        })
        .collect();
    HttpRequest {
        method,
        url,
        headers,
        body,
        json: h.json.clone(),
        expect_status,
        store,
        timeout,
    }
}
