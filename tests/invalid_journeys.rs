//! `shopwatch validate` on journeys with one mistake each: the real binary must exit 2 and
//! print `file:line:column: message` (and the hint, where there is one) for that mistake.
//!
//! Every location below was counted by hand in its fixture (lines and columns 1-based,
//! columns in characters), and the test checks it independently of the tool: the `at` column
//! is the text the fixture has at that line and column, so a location that drifts to another
//! token fails even when the message is right.

mod diagnostics;

use diagnostics::{check_diagnostic, check_one_error, manifest_path, validate};

/// (fixture under tests/fixtures/invalid/, line:column, text at that place in the fixture,
///  message the diagnostic starts with, text its hint contains or None for no hint)
type Expectation = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
);

#[rustfmt::skip]
const INVALID: &[Expectation] = &[
    // YAML syntax: the parser's place of the problem (the `:` after a mis-indented key).
    ("01-yaml-syntax.yaml", "5:8", ":",
     "mapping values are not allowed in this context",
     Some("check this line's indentation")),
    ("02-unknown-top-level-key.yaml", "2:1", "base_ur:",
     "unknown key `base_ur`",
     Some("did you mean `base_url`?")),
    ("03-unknown-step-key.yaml", "5:5", "slwo:",
     "unknown key `slwo` (at steps[0])",
     Some("did you mean `slow`?")),
    ("04-unknown-action.yaml", "7:9", "clik:",
     "unknown action `clik` (at steps[0].do[1])",
     Some("did you mean `click`?")),
    // At the start of the list item, whose first action is `open`.
    ("05-two-actions-in-one-item.yaml", "6:9", "open: /",
     "one action per list item: `open` and `click` are in the same item; start `click` on its own line with `- ` (at steps[0].do[0])",
     None),
    ("06-action-without-argument.yaml", "7:9", "click",
     "action `click` needs an argument: `- click: ...` (at steps[0].do[1])",
     None),
    ("07-unknown-key-in-action.yaml", "7:33", "valeu:",
     "unknown key `valeu` (at steps[0].do[1].fill)",
     Some("did you mean `value`?")),
    ("08-fill-without-value.yaml", "7:15", "{ selector: \"#q\" }",
     "missing key `value` (at steps[0].do[1].fill)",
     None),
    // A missing top-level key: the top-level mapping, which starts at the top.
    ("09-missing-steps.yaml", "1:1", "journey: shop",
     "missing key `steps`",
     None),
    ("10-missing-base-url.yaml", "1:1", "journey: shop",
     "missing key `base_url`",
     None),
    ("11-retries-wrong-type.yaml", "3:10", "many",
     "invalid type: string \"many\", expected a whole number (at retries)",
     None),
    ("12-bad-duration.yaml", "3:10", "fast",
     "`fast` is not a duration",
     Some("write a number with a unit")),
    ("13-every-below-minimum.yaml", "3:8", "5s",
     "`every: 5s` is shorter than the 10s minimum",
     None),
    ("14-every-and-cron.yaml", "4:7", "\"*/5 * * * *\"",
     "give `every` or `cron`, not both",
     None),
    ("15-bad-cron.yaml", "3:7", "\"every five minutes\"",
     "`every five minutes` is not a cron expression: it has 3 fields, not 5",
     Some("five fields: minute hour day-of-month month day-of-week")),
    ("16-bad-base-url.yaml", "2:11", "shop.example.com",
     "`shop.example.com` is not a URL: relative URL without a base",
     Some("write a full URL such as `https://shop.example.com`")),
    ("17-non-http-base-url.yaml", "2:11", "ftp://",
     "base_url must be http or https, not `ftp`",
     Some("write a full URL such as `https://shop.example.com`")),
    ("18-unknown-browser.yaml", "3:10", "firefx",
     "unknown browser `firefx`",
     Some("did you mean `firefox`?")),
    ("19-browser-name-conflict.yaml", "5:16", "chrome",
     "capabilities.browserName says chrome but browser says firefox",
     None),
    // The name is wrong, so the place is the key, not its value.
    ("20-bad-var-name.yaml", "4:3", "order-id:",
     "variable name `order-id` is not allowed",
     Some("use letters, digits and `_`, starting with a letter")),
    ("21-bad-secret-source.yaml", "4:23", "\"vault:x\"",
     "secret source `vault:x` is not known",
     Some("write `env:NAME` or `file:PATH`")),
    ("22-var-used-before-stored.yaml", "6:15", "\"/orders/${order}\"",
     "`${order}` is used in step `track` before it is stored",
     Some("step `buy` stores `order` later: move this action after it")),
    ("23-undefined-var.yaml", "9:44", "\"${emial}\"",
     "`${emial}` is used in step `login` but never defined",
     Some("did you mean `${email}`?")),
    ("24-unclosed-placeholder.yaml", "9:44", "\"${email\"",
     "unclosed `${` in `${email`: write `${name}`, or `$$` for a literal `$`",
     None),
    // At the selector itself, not at the `{` of the map around it.
    ("25-invalid-css-selector.yaml", "7:28", "\"button:contains('Buy')\"",
     "`button:contains('Buy')` is not a valid CSS selector",
     Some("for a selector CSS cannot express, use `xpath:`")),
    ("26-two-locators.yaml", "7:16", "{ selector: \"#buy\", xpath:",
     "give exactly one of `selector`, `xpath` or `link_text` (found `selector` and `xpath`)",
     None),
    ("27-no-locator.yaml", "7:15", "{ value: coffee }",
     "give exactly one of `selector`, `xpath` or `link_text` (found none)",
     None),
    ("28-bad-regex.yaml", "7:60", "\"^SW-([0-9]{6}$\"",
     "`^SW-([0-9]{6}$` is not a valid regex: unclosed group",
     None),
    ("29-assert-text-equals-and-contains.yaml", "7:22", "{ selector: h1, equals:",
     "give exactly one of `equals`, `contains` or `matches` (found `equals` and `contains`)",
     None),
    // The second use of the name.
    ("30-duplicate-step-names.yaml", "7:11", "browse",
     "step name `browse` is used twice; step names must be unique",
     None),
    ("31-bad-step-name.yaml", "4:11", "add to cart",
     "step name `add to cart` is not allowed",
     Some("use 1 to 64 letters, digits, `-`, `_` or `.`")),
    ("32-empty-steps.yaml", "3:8", "[]",
     "a journey needs at least one step",
     None),
    ("33-step-with-empty-do.yaml", "8:9", "[]",
     "step `buy` has no actions",
     None),
    ("34-unknown-key-name-in-press.yaml", "8:16", "Entr",
     "unknown key name `Entr` in `press`",
     Some("did you mean `Enter`?")),
    ("35-bad-http-method.yaml", "7:19", "FETCH",
     "unknown HTTP method `FETCH`",
     Some("use one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS")),
    ("36-expect-status-999.yaml", "8:26", "999",
     "999 is not an HTTP status code (100 to 599)",
     None),
    ("37-store-path-double-dot.yaml", "10:20", "order..number",
     "`order..number` is not a JSON path: write keys and indexes joined by dots, e.g. `order.items.0.id`",
     None),
    ("38-assert-count-min-above-max.yaml", "7:56", "3, max: 1",
     "min 3 is more than max 1",
     None),
    ("39-select-value-and-label.yaml", "7:17", "{ selector: \"#country\"",
     "give exactly one of `value`, `label` or `index` (found `value` and `label`)",
     None),
    ("40-screenshot-name-with-slash.yaml", "7:21", "cart/full",
     "screenshot name `cart/full` must be letters, digits, `-`, `_` or `.` (it becomes a file name)",
     None),
    // The parser stops at the `-` that only a block may hold; the hint names the open `{`.
    ("41-yaml-unclosed-flow-mapping.yaml", "7:7", "- open: /",
     "\"-\" is only valid inside a block",
     Some("the `{` at line 6 column 16 is not closed")),
    // serde would keep the last `email` silently; the second one is the error.
    ("42-duplicate-key.yaml", "6:3", "email: other@example.com",
     "duplicate key `email` (at vars)",
     Some("`email` is already given at line 4 column 3: keep one")),
    ("43-unknown-key-in-secret.yaml", "4:42", "defualt:",
     "unknown key `defualt` (at vars.password)",
     Some("did you mean `default`?")),
    ("44-cron-runs-too-often.yaml", "3:7", "\"*/5 * * * * *\"",
     "`cron: */5 * * * * *` runs more often than the 10s minimum",
     None),
    // Column counted in characters: `ß` is one column, two bytes.
    ("45-column-after-non-ascii.yaml", "6:65", "\"${street\"",
     "unclosed `${` in `${street`",
     None),
    ("46-duplicate-top-level-key.yaml", "4:1", "every: 5m",
     "duplicate key `every`",
     Some("`every` is already given at line 3 column 1: keep one")),
    ("47-cron-never-runs.yaml", "3:7", "\"0 9 30 2 *\"",
     "`cron: 0 9 30 2 *` never runs: no date matches it",
     None),
    // Durations are added to clocks: one near u64::MAX seconds would overflow them.
    ("48-timeout-overflows.yaml", "3:10", "18446744073709551615s",
     "duration `18446744073709551615s` is too long",
     Some("the longest is 366d")),
    ("49-sleep-overflows.yaml", "7:16", "18446744073709551615s",
     "duration `18446744073709551615s` is too long",
     Some("the longest is 366d")),
    ("50-http-timeout-overflows.yaml", "6:44", "9999999999999d",
     "duration `9999999999999d` is too long",
     Some("the longest is 366d")),
    // Deep nesting costs parsing and locating depth times size: refused before both.
    ("52-nested-too-deep.yaml", "4:36", "[[[[[",
     "nested more than 32 levels deep",
     Some("check the indentation and brackets")),
    ("53-fail-on-bad-selector.yaml", "6:15", "\"div[class=\"",
     "`div[class=` is not a valid CSS selector",
     Some("for a selector CSS cannot express, use `xpath:`")),
    ("54-only-comments.yaml", "1:1", "# shop journey",
     "the file holds no YAML: it is empty, or only comments",
     None),
    ("55-two-documents.yaml", "6:1", "journey: shop-2",
     "a second YAML document (after `---`) starts here: a file holds one",
     None),
    ("56-unknown-anchor.yaml", "7:9", "*checkout",
     "alias references unknown anchor",
     None),
    ("57-tab-indent.yaml", "4:2", "- step: home",
     "tabs disallowed within this context (block indentation)",
     Some("indent with spaces, not tabs")),
    ("58-viewport-not-width-by-height.yaml", "3:11", "1280 by 800",
     "`viewport: 1280 by 800` is not WIDTHxHEIGHT",
     Some("e.g. `viewport: 1280x800`")),
    // `optional` where it cannot apply, at its value.
    ("60-optional-on-wait-for.yaml", "7:59", "true",
     "`wait_for` cannot be optional",
     Some("`optional` is for actions on an element the page may not show: click, fill, select, check, uncheck, hover, press")),
    ("61-optional-wait-bad-duration.yaml", "7:77", "soon",
     "`soon` is not a duration",
     Some("write a number with a unit")),
    ("62-optional-wait-without-optional.yaml", "7:61", "2s",
     "`optional_wait` needs `optional: true`",
     None),
    // Both answers: at the dialog's map.
    ("63-dialog-accept-and-dismiss.yaml", "8:17", "{ accept: true, dismiss: true }",
     "give exactly one of `accept` or `dismiss` (found `accept` and `dismiss`)",
     None),
    ("64-dialog-unknown-answer.yaml", "8:17", "accpet",
     "`dialog: accpet` is neither `accept` nor `dismiss`",
     Some("did you mean `accept`?")),
    ("65-dialog-type-with-dismiss.yaml", "8:40", "Happy birthday",
     "`type` fills a prompt that is accepted; a dismissed prompt drops it",
     None),
    ("66-defaults-optional-wait-no-unit.yaml", "3:42", "2",
     "`2` is not a duration",
     Some("add a unit: `2s`")),
    ("67-optional-press-without-element.yaml", "7:41", "true",
     "an optional `press` needs the element it waits for",
     None),
    ("68-dialog-accept-false.yaml", "8:27", "false",
     "`accept: false` says nothing: write `accept: true` or `dismiss: true`",
     None),
    // Blocks: `frame`, `window`, `if_present`, and `assert_windows`.
    ("80-frame-without-selector.yaml", "8:11", "timeout: 2s",
     "give exactly one of `selector`, `xpath` or `link_text` (found none)",
     None),
    ("81-frame-empty-do.yaml", "7:47", "[]",
     "`frame` has no actions in `do`",
     None),
    ("82-window-close-typo.yaml", "9:18", "bypage",
     "`close: bypage` is not a way to end a window",
     Some("did you mean `by_page`?")),
    ("83-window-url-timeout.yaml", "8:34", "timeout",
     "`timeout` is not part of the window's URL",
     Some("put `timeout` beside `url`")),
    ("84-assert-windows-zero.yaml", "7:25", "0",
     "`assert_windows: 0` can never hold: the journey's own window is always open",
     None),
    ("85-if-present-wait-no-unit.yaml", "9:17", "500",
     "`500` is not a duration",
     Some("add a unit")),
    ("86-unknown-action-inside-frame.yaml", "11:15", "clik:",
     "unknown action `clik` (at steps[0].do[1].frame.do[1])",
     Some("did you mean `click`?")),
    ("87-frame-without-do.yaml", "7:16", "{ selector:",
     "missing key `do` (at steps[0].do[1].frame)",
     None),
    ("88-blocks-nested-too-deep.yaml", "7:191", "{ selector:",
     "blocks nest more than 5 deep here",
     None),
    ("89-frame-unknown-key.yaml", "9:11", "wait: 2s",
     "unknown key `wait` (at steps[0].do[1].frame)",
     Some("expected one of `selector`, `xpath`, `link_text`, `timeout`, `do`")),
    // Piercing selectors (`host >>> inner`): every part a CSS selector, none empty.
    ("90-shadow-path-ends-with-pierce.yaml", "7:16", "\"express-checkout >>>\"",
     "`express-checkout >>>` has no selector after the last `>>>`: name the element inside the shadow root",
     Some("e.g. `express-checkout >>> button.pay`")),
    ("91-shadow-path-without-host.yaml", "7:31", "\">>> button.pay\"",
     "`>>> button.pay` has no selector before the first `>>>`: name the shadow host",
     Some("the shadow host's selector, `>>>`, then a selector inside its shadow root")),
    ("92-shadow-path-invalid-part.yaml", "7:34", "\"express-checkout >>> p:contains(started)\"",
     "`p:contains(started)` (in `express-checkout >>> p:contains(started)`) is not a valid CSS selector: `:contains` is jQuery's, not CSS",
     Some("each part between `>>>` is a CSS selector (WebDriver finds no XPath inside a shadow root)")),
    ("93-shadow-path-in-xpath.yaml", "7:25", "\"//express-checkout >>> //button\"",
     "`>>>` in xpath `//express-checkout >>> //button` does not reach into a shadow root: WebDriver finds no XPath there",
     Some("write a CSS selector instead")),
    ("94-shadow-path-empty-middle-part.yaml", "7:16", "\"express-checkout >>> >>> button.pay\"",
     "`express-checkout >>> >>> button.pay` has no selector between two `>>>`",
     Some("e.g. `express-checkout >>> button.pay`")),
    // Time zones of cron schedules (IANA names).
    ("100-timezone-unknown.yaml", "4:11", "Europe/Berln",
     "`Europe/Berln` is not an IANA time zone name; did you mean `Europe/Berlin`?",
     Some("write an IANA time zone name, e.g. `Europe/Berlin`")),
    ("101-timezone-without-cron.yaml", "4:11", "Europe/Berlin",
     "`timezone` is for `cron` times, and this journey has no `cron`",
     Some("remove `timezone`")),
    ("102-timezone-misspelt.yaml", "4:1", "time_zone:",
     "unknown key `time_zone`",
     Some("did you mean `timezone`?")),
    // `${env:NAME}`: located at the value that names the variable.
    ("103-env-variable-not-set.yaml", "2:11", "\"https://${env:SHOPWATCH_TEST_UNSET_HOST}/\"",
     "environment variable `SHOPWATCH_TEST_UNSET_HOST` is not set (`${env:SHOPWATCH_TEST_UNSET_HOST}`)",
     Some("set it in the environment shopwatch runs in")),
    ("104-env-bad-name.yaml", "6:15", "/${env:shop-path}",
     "`${env:shop-path}` does not name an environment variable",
     Some("letters, digits and `_`")),
    // `metric:` on a store action: located at the key at fault.
    ("105-metric-bad-name.yaml", "6:62", "cart-total",
     "`cart-total` cannot name a metric",
     Some("use letters, digits and `_`, starting with a letter, e.g. `cart_total`")),
    ("106-metric-limits-without-metric.yaml", "6:59", "1",
     "`min` applies to a published value, and there is no `metric`",
     Some("add `metric: NAME`")),
    ("107-metric-min-over-max.yaml", "6:92", "100",
     "min 100 is more than max 10", None),
    ("108-metric-published-twice.yaml", "7:58", "total",
     "step `cart` publishes `total` twice",
     Some("give each value its own metric name")),
    ("109-metric-bad-decimal.yaml", "9:69", "\";\"",
     "`;` is not a decimal separator",
     Some("write `decimal: \".\"` or `decimal: \",\"`")),
    ("110-metric-min-not-a-number.yaml", "6:74", "lots",
     "invalid type: string \"lots\", expected a number (at steps[0].do[0].store_text.min)", None),
    // A huge value is quoted clipped, not whole.
    ("51-long-value-clipped.yaml", "3:10", "xxxxxxxx",
     "`xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…[5002 characters] is not a duration",
     Some("write a number with a unit")),
];

#[test]
fn each_invalid_fixture_reports_its_one_error_where_it_is() {
    let mut problems = Vec::new();
    for &(fixture, location, at, message, hint) in INVALID {
        let file = format!("tests/fixtures/invalid/{fixture}");
        problems.extend(check_one_error(&file, &file, (location, at, message, hint)));
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// Every fixture on disk has an expectation, and every expectation a fixture.
#[test]
fn the_table_covers_every_fixture() {
    let mut on_disk: Vec<String> = std::fs::read_dir(manifest_path("tests/fixtures/invalid"))
        .expect("list fixtures")
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".yaml"))
        .collect();
    on_disk.sort();
    let mut in_table: Vec<String> = INVALID.iter().map(|e| e.0.to_string()).collect();
    in_table.sort();
    in_table.dedup();
    assert_eq!(in_table.len(), INVALID.len(), "a fixture is listed twice");
    assert_eq!(on_disk, in_table);
    assert!(INVALID.len() >= 30);
}

#[test]
fn all_errors_in_a_file_are_reported_in_one_run() {
    let file = "tests/fixtures/three-errors.yaml";
    let output = validate(&[file]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr:\n{stderr}");
    let expected = [
        (
            "4:10",
            "90",
            "`90` is not a duration",
            Some("add a unit: `90s`"),
        ),
        (
            "12:27",
            "\"#email,\"",
            "`#email,` is not a valid CSS selector",
            Some("check brackets and quotes"),
        ),
        (
            "13:47",
            "\"${pasword}\"",
            "`${pasword}` is used in step `login` but never defined",
            Some("did you mean `${password}`?"),
        ),
    ];
    let mut problems: Vec<String> = expected
        .into_iter()
        .flat_map(|expectation| check_diagnostic(file, &stderr, expectation))
        .collect();
    let reported = stderr
        .lines()
        .filter(|l| l.starts_with(&format!("{file}:")))
        .count();
    if reported != 3 {
        problems.push(format!("{reported} errors reported, wanted 3"));
    }
    assert!(
        problems.is_empty(),
        "{}\nstderr:\n{stderr}",
        problems.join("\n")
    );
}

#[test]
fn a_missing_file_is_an_invalid_journey() {
    let file = "tests/fixtures/no-such-journey.yaml";
    assert!(!manifest_path(file).exists());
    let output = validate(&[file]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr:\n{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "{file}:1:1: cannot read journey or configuration file: "
        )),
        "stderr:\n{stderr}"
    );
}

#[test]
fn every_shipped_journey_is_valid() {
    let mut journeys: Vec<String> = std::fs::read_dir(manifest_path("journeys"))
        .expect("list journeys/")
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".yaml") || name.ends_with(".yml"))
        .map(|name| format!("journeys/{name}"))
        .collect();
    journeys.sort();
    assert!(!journeys.is_empty(), "no journeys under journeys/");
    let files: Vec<&str> = journeys.iter().map(String::as_str).collect();
    let output = validate(&files);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "stderr:\n{stderr}");
    for file in &journeys {
        assert!(
            stdout.contains(&format!("{file}: journey `")),
            "{file} not reported valid:\n{stdout}"
        );
    }
}

#[test]
fn a_file_too_large_to_be_a_journey_is_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("huge.yaml");
    let line = "# a comment that makes this file large\n";
    std::fs::write(&file, line.repeat(5 * 1024 * 1024 / line.len())).unwrap();
    let output = validate(&[file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr:\n{stderr}");
    assert!(
        stderr.contains(":1:1: this journey or configuration file holds more than 4 MiB"),
        "stderr:\n{stderr}"
    );
}

#[test]
fn selectors_browsers_accept_are_valid_and_an_unknown_pseudo_class_is_a_warning() {
    let file = "tests/fixtures/css-selectors.yaml";
    let output = validate(&[file]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "stderr:\n{stderr}");
    assert!(
        stdout.contains("journey `css` is valid (1 steps)"),
        "{stdout}"
    );
    let problems = check_diagnostic(
        file,
        &stderr,
        (
            "15:16",
            "\"a:hovr\"",
            "warning: `:hovr` in `a:hovr` is no standard pseudo-class or pseudo-element",
            Some("check the spelling"),
        ),
    );
    assert!(
        problems.is_empty(),
        "{}\nstderr:\n{stderr}",
        problems.join("\n")
    );
    let said = stderr
        .lines()
        .filter(|l| l.starts_with(&format!("{file}:")))
        .count();
    assert_eq!(said, 1, "one warning, for `:hovr` only:\n{stderr}");
}

/// A schedule due only twice a year loads, with a warning at its `cron` naming the next time
/// in its own time zone.
#[test]
fn a_schedule_almost_never_due_is_a_warning() {
    let file = "tests/fixtures/rare-cron.yaml";
    let output = validate(&[file]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "stderr:\n{stderr}");
    let problems = check_diagnostic(
        file,
        &stderr,
        (
            "3:7",
            "\"0 9 1 1,7 *\"",
            "warning: `cron: 0 9 1 1,7 *` is due only 2 times in the next year (next: ",
            Some("when both day-of-month and day-of-week are set, either one matching is enough"),
        ),
    );
    assert!(
        problems.is_empty(),
        "{}\nstderr:\n{stderr}",
        problems.join("\n")
    );
    // 09:00 in Berlin: CET in January, CEST in July.
    assert!(
        stderr.contains(" 09:00 CET)") || stderr.contains(" 09:00 CEST)"),
        "{stderr}"
    );
}
