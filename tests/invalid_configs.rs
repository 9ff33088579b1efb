//! Monitor configurations (`shopwatch run --config FILE`, `shopwatch validate FILE`) with one
//! mistake each: the real binary must exit 2 and print `file:line:column: message` (and the
//! hint, where there is one) for that mistake, from `validate` and from `run` alike, and `run`
//! must start nothing.
//!
//! As in tests/invalid_journeys.rs, every location below was counted by hand in its fixture,
//! and the test checks it independently of the tool: the `at` text is what the file has at
//! that line and column.
//!
//! tests/fixtures/invalid-config/journeys/ holds valid journeys the fixtures name;
//! broken-journeys/ holds invalid ones, whose errors must be reported in the journey file.

mod diagnostics;

use diagnostics::{check_diagnostic, check_one_error, manifest_path, validate};
use std::io::Read;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

const DIR: &str = "tests/fixtures/invalid-config";

/// How long `shopwatch run` may take to refuse a configuration: it reads one file and a few
/// journeys, so anything near this means it started monitoring instead.
const RUN_TIMEOUT: Duration = Duration::from_secs(10);

/// One fixture and the one diagnostic it must give.
struct Case {
    /// File name under tests/fixtures/invalid-config/.
    fixture: &'static str,
    /// Where the error is reported, under tests/fixtures/invalid-config/, when it is not the
    /// fixture itself (an invalid journey file the fixture names).
    reported_in: Option<&'static str>,
    /// line:column, counted in characters.
    location: &'static str,
    /// The text the file has at `location`.
    at: &'static str,
    /// What the message starts with.
    message: &'static str,
    /// What the hint contains, or None for no hint.
    hint: Option<&'static str>,
}

const fn case(
    fixture: &'static str,
    location: &'static str,
    at: &'static str,
    message: &'static str,
    hint: Option<&'static str>,
) -> Case {
    Case {
        fixture,
        reported_in: None,
        location,
        at,
        message,
        hint,
    }
}

impl Case {
    fn config(&self) -> String {
        format!("{DIR}/{}", self.fixture)
    }

    /// The file the diagnostic names.
    fn reported_file(&self) -> String {
        match self.reported_in {
            Some(file) => format!("{DIR}/{file}"),
            None => self.config(),
        }
    }

    fn expectation(&self) -> (&str, &str, &str, Option<&str>) {
        (self.location, self.at, self.message, self.hint)
    }
}

const OWN_DIR_HINT: &str = "shopwatch deletes old runs in its artifacts directory, so it takes only a new or empty directory, or one it wrote: give it a directory of its own";
const DIR_NAME_HINT: &str = "a journey's artifacts go in a directory named after it";
const LISTEN_HINT: &str = "write an IP address and port, e.g. `127.0.0.1:9464`";
const WEBDRIVER_HINT: &str = "give the WebDriver endpoint, e.g. `http://127.0.0.1:4444`";
const RELATIVE_HINT: &str = "paths are taken from the configuration file's directory";
const BUCKETS_HINT: &str = "upper bounds in seconds, in increasing order";

#[rustfmt::skip]
const INVALID: &[Case] = &[
    // YAML syntax: the parser's place of the problem (the `:` after the mis-indented key).
    case("01-yaml-syntax.yaml", "3:16", ": 2",
         "mapping values are not allowed in this context",
         Some("check this line's indentation")),
    case("02-unknown-top-level-key.yaml", "1:1", "listn:",
         "unknown key `listn`",
         Some("did you mean `listen`?")),
    case("03-unknown-webdriver-key.yaml", "3:3", "max_session:",
         "unknown key `max_session` (at webdriver)",
         Some("did you mean `max_sessions`?")),
    // `listen` is bound as given: a host name would need resolving, which SocketAddr does not.
    case("04-listen-host-name.yaml", "1:9", "localhost:9464",
         "`localhost:9464`: `listen` takes an IP address, not a host name",
         Some("host names are not resolved here: write `127.0.0.1:9464` to listen on this machine only, or `0.0.0.0:9464` on every interface")),
    case("05-listen-port-only.yaml", "1:9", "9464",
         "`9464` has no IP address",
         Some("write `127.0.0.1:9464` (this machine only) or `0.0.0.0:9464`")),
    // Not "expected a string": what `listen` is.
    case("06-listen-wrong-type.yaml", "1:9", "{host: 127.0.0.1",
         "invalid type: map, expected an IP address and port such as `127.0.0.1:9464` (at listen)",
         Some(LISTEN_HINT)),
    case("07-webdriver-url-not-http.yaml", "2:8", "ftp://x",
         "the WebDriver url must be http or https, not `ftp`",
         Some(WEBDRIVER_HINT)),
    case("08-webdriver-url-not-a-url.yaml", "2:8", "not a url",
         "`not a url` is not a URL: relative URL without a base",
         Some(WEBDRIVER_HINT)),
    case("09-max-sessions-zero.yaml", "2:17", "0",
         "`max_sessions` must be at least 1",
         Some("how many browser sessions may be open at once")),
    case("10-max-sessions-not-a-number.yaml", "2:17", "many",
         "invalid type: string \"many\", expected a whole number (at webdriver.max_sessions)",
         Some("a whole number, at least 1, e.g. `max_sessions: 2`")),
    // The second entry; the first is fine.
    case("11-journey-file-missing.yaml", "3:5", "journeys/missing.yaml",
         "journey file `tests/fixtures/invalid-config/journeys/missing.yaml` does not exist",
         Some(RELATIVE_HINT)),
    case("12-glob-matches-nothing.yaml", "2:5", "journeys/*.yml",
         "`journeys/*.yml` matches no journey file (looked for `tests/fixtures/invalid-config/journeys/*.yml`)",
         Some(RELATIVE_HINT)),
    // A glob over the whole disk would take minutes before the monitor starts (or reloads).
    case("70-glob-walks-too-far.yaml", "2:5", "\"/**/*.yaml\"",
         "`/**/*.yaml` looks through more than 10000 entries under `/`",
         Some("point the glob at the journeys' own directory")),
    // The position is in the pattern as written, not in it joined to the directory.
    case("13-invalid-glob.yaml", "2:5", "\"journeys/[shop.yaml\"",
         "`journeys/[shop.yaml` is not a valid glob: invalid range pattern (at character 10)",
         Some("`[abc]` one of the characters listed")),
    case("14-journey-map-unknown-key.yaml", "3:5", "base-url:",
         "unknown key `base-url` (at journeys[0])",
         Some("did you mean `base_url`?")),
    case("15-journey-map-bad-base-url.yaml", "3:15", "staging.shop.example.com",
         "`staging.shop.example.com` is not a URL: relative URL without a base",
         Some("write a full URL such as `https://staging.shop.example.com`")),
    case("16-journey-entry-number.yaml", "3:5", "42",
         "invalid type: integer `42`, expected a journey file path or glob, or `{file: ..., base_url: ...}` (at journeys[1])",
         Some("write a path or glob, e.g. `- journeys/shop.yaml`")),
    case("17-journey-entry-list.yaml", "2:5", "[journeys/shop.yaml,",
         "invalid type: sequence, expected a journey file path or glob, or `{file: ..., base_url: ...}` (at journeys[0])",
         Some("write a path or glob, e.g. `- journeys/shop.yaml`")),
    // Two valid journey files, both `journey: checkout`: at the entry of the second.
    case("18-duplicate-journey-name.yaml", "4:5", "journeys/checkout-b.yaml",
         "journey `checkout` (tests/fixtures/invalid-config/journeys/checkout-b.yaml) is configured twice; the first is tests/fixtures/invalid-config/journeys/checkout-a.yaml",
         Some("journey names are metric labels and must be unique")),
    // Reported in the journey file, at its mistake, not in the configuration.
    Case {
        fixture: "19-invalid-journey-file.yaml",
        reported_in: Some("broken-journeys/every-5s.yaml"),
        location: "3:8",
        at: "5s",
        message: "`every: 5s` is shorter than the 10s minimum",
        hint: None,
    },
    case("20-artifacts-bad-max-age.yaml", "4:12", "a week",
         "`a week` is not a duration",
         Some("write a number with a unit")),
    case("21-artifacts-bad-max-size.yaml", "4:13", "lots",
         "`lots` is not a size",
         Some("write a number of bytes with a unit, e.g. `500MB` or `1GiB`")),
    case("22-artifacts-empty-dir.yaml", "4:8", "\"\"",
         "artifacts `dir` is empty",
         Some("leave `dir` out for `shopwatch-artifacts` beside the configuration")),
    case("23-metrics-window-below-minimum.yaml", "4:11", "30s",
         "window 30s is shorter than the 1m minimum",
         Some("the default is 1h")),
    case("24-metrics-window-not-a-duration.yaml", "4:11", "hourly",
         "`hourly` is not a duration",
         Some("write a number with a unit")),
    // At the bound that breaks the order, not at the list.
    case("25-step-buckets-not-increasing.yaml", "4:26", "1, 5]",
         "bucket bound 1 in `step_buckets` is not more than the bound before it (2): bounds must increase",
         Some(BUCKETS_HINT)),
    case("26-step-buckets-negative.yaml", "6:7", "-1",
         "bucket bound -1 in `step_buckets` must be a positive number of seconds",
         Some(BUCKETS_HINT)),
    case("27-journey-buckets-empty.yaml", "4:20", "[]",
         "`journey_buckets` is empty",
         Some("or leave it out for the defaults")),
    // A sink written as a setting of `alerting`.
    case("28-alerting.yaml", "4:3", "slack:",
         "unknown key `slack` (at alerting)",
         Some("sinks go in a list under `sinks:`, e.g. `sinks: [{slack: {...}}]`")),
    // At the first key: line 1 is a comment.
    case("29-nothing-to-monitor.yaml", "2:1", "listen:",
         "nothing to monitor: no journeys and no probes are configured",
         Some("add `journeys: [journeys/shop.yaml]`, or a probe under `probes:`")),
    // Probe errors point into the configuration, at the probe.
    case("30-probe-every-below-minimum.yaml", "5:14", "5s",
         "`every: 5s` is shorter than the 10s minimum",
         None),
    case("31-unknown-probe-kind.yaml", "6:5", "htp:",
         "unknown probe kind `htp` (at probes[1])",
         Some("did you mean `http`?")),
    case("32-location-empty.yaml", "1:11", "\"\"",
         "`location` is empty",
         Some("or leave `location` out")),
    case("33-location-too-long.yaml", "1:11", "eu-west-frankfurt-",
         "location is 78 characters long; at most 64 are allowed",
         Some("it becomes the `location` label of every series")),
    case("34-duplicate-top-level-key.yaml", "4:1", "listen: 0.0.0.0:9464",
         "duplicate key `listen`",
         Some("`listen` is already given at line 1 column 1: keep one")),
    case("35-journeys-not-a-list.yaml", "1:11", "journeys/shop.yaml",
         "invalid type: string \"journeys/shop.yaml\", expected a list (at journeys)",
         Some("e.g. `journeys: [journeys/shop.yaml]`")),
    case("36-journey-map-without-file.yaml", "3:5", "base_url:",
         "missing key `file` (at journeys[1])",
         Some("a journey given as a map needs `file:`")),
    case("37-journey-entry-directory.yaml", "2:5", "journeys",
         "`tests/fixtures/invalid-config/journeys` is a directory, not a journey file",
         Some("a glob such as `journeys/*.yaml`")),
    case("38-artifacts-max-size-zero.yaml", "4:13", "0",
         "`max_size: 0` would keep no artifacts",
         Some("e.g. `500MB` or `1GiB`")),
    case("39-webdriver-not-a-map.yaml", "1:12", "http://127.0.0.1:4444",
         "invalid type: string \"http://127.0.0.1:4444\", expected a map (at webdriver)",
         Some("e.g. `webdriver: {url: http://127.0.0.1:4444}`")),
    // "a number", not "f64".
    case("40-bucket-not-a-number.yaml", "4:27", "10s",
         "invalid type: string \"10s\", expected a number (at metrics.journey_buckets[2])",
         Some(BUCKETS_HINT)),
    // At `journeys`, which is there but empty.
    case("41-journeys-empty-list.yaml", "1:1", "journeys: []",
         "nothing to monitor: no journeys and no probes are configured",
         Some("add `journeys: [journeys/shop.yaml]`")),
    // At the file, not at the map around it.
    case("42-journey-map-file-missing.yaml", "2:11", "journeys/missing.yaml",
         "journey file `tests/fixtures/invalid-config/journeys/missing.yaml` does not exist",
         Some(RELATIVE_HINT)),
    // `::1:9464` is itself an IPv6 address; `[::1]:9464` was meant.
    case("43-listen-ipv6-without-brackets.yaml", "1:9", "\"::1:9464\"",
         "`::1:9464` has no port",
         Some("an IPv6 address goes in brackets before the port, e.g. `[::1]:9464`")),
    // At the key, not inside the map under it.
    case("44-alerting-no-sinks.yaml", "3:1", "alerting:",
         "`alerting` has no sinks: alerts would go nowhere",
         Some("add at least one under `sinks:`")),
    case("45-alerting-unknown-sink-kind.yaml", "5:7", "victorops:",
         "unknown sink kind `victorops` (at alerting.sinks[0])",
         Some("expected one of `alertmanager`, `webhook`, `slack`, `email`, `pagerduty`, `opsgenie`, `teams`, `telegram`, `discord`, `ntfy`, `template`")),
    case("46-alerting-webhook-without-url.yaml", "5:7", "webhook:",
         "a webhook sink needs `url`",
         Some("e.g. `url: https://hooks.example.com/shopwatch`")),
    case("47-alerting-threshold-zero.yaml", "4:22", "0",
         "`failure_threshold` must be at least 1",
         Some("1 acts on the first run")),
    case("48-alerting-repeat-too-short.yaml", "4:11", "10s",
         "`repeat: 10s` is shorter than the 1m minimum",
         Some("e.g. `repeat: 4h`")),
    // At the wrong item of the list.
    case("49-alerting-unknown-severity.yaml", "7:30", "critcal]",
         "severity `critcal` is not known",
         Some("use `critical` and `warning`")),
    case("50-alerting-unknown-journey-override.yaml", "5:5", "shpo:",
         "no journey named `shpo` is configured",
         Some("did you mean `shop`?")),
    case("51-alerting-setting-of-another-kind.yaml", "7:9", "channel:",
         "`channel` is not a setting of a webhook sink",
         Some("a webhook sink takes `url`, `secret`, `headers`")),
    case("52-alerting-email-bad-address.yaml", "8:14", "oncall-at-example.com]",
         "`oncall-at-example.com` is not an email address",
         Some("write `name@example.com`")),
    case("53-alerting-email-password-in-clear.yaml", "8:19", "hunter2",
         "the SMTP password is written in the configuration",
         Some("`password: {secret: env:SMTP_PASSWORD}`")),
    case("54-alerting-email-login-over-plain-smtp.yaml", "7:19", "shopwatch",
         "the password would cross the network to smtp.example.com unencrypted",
         Some("use `tls: starttls` or an `smtps://` URL")),
    case("55-alerting-maintenance-bad-cron.yaml", "5:13", "\"0 25 * * *\"",
         "`0 25 * * *` is not a cron expression",
         Some("(in UTC, or in `timezone`): five fields")),
    case("56-alerting-two-unnamed-webhooks.yaml", "6:7", "webhook:",
         "a second `webhook` sink needs a name",
         Some("give each a `name:` (the first is item 1)")),
    case("57-alerting-slack-url-in-clear.yaml", "6:14", "https://hooks.slack.com",
         "the Slack webhook URL is a secret",
         Some("`url: {secret: env:SLACK_WEBHOOK_URL}`")),
    case("58-alerting-unknown-alert.yaml", "7:36", "StepFailed]",
         "alert `StepFailed` is not known",
         Some("the alerts are: JourneyStepFailed")),
    case("59-alerting-critical-days-over-warn-days.yaml", "5:18", "10",
         "`critical_days` (10) is more than `warn_days` (7)",
         Some("first warns, then turns critical")),
    case("60-alerting-unknown-secret-source.yaml", "7:27", "\"vault:shopwatch/hook\"",
         "secret source `vault:shopwatch/hook` is not known",
         Some("write `env:NAME` or `file:PATH`")),
    case("61-alerting-email-smtp-not-a-url.yaml", "6:15", "127.0.0.1:2525",
         "`127.0.0.1:2525` is not an SMTP URL",
         Some("e.g. `smtp: smtp://127.0.0.1:25")),
    case("62-alerting-email-ca-file-without-tls.yaml", "7:9", "ca_file:",
         "`ca_file` is for TLS, and this sink uses plain SMTP",
         Some("add `tls: starttls`")),
    // Retention deletes in the artifacts directory: never in `/`, a system directory, the
    // configuration's own directory or one holding other files.
    case("63-artifacts-dir-root.yaml", "4:8", "/",
         "the artifacts directory `/` is the root of the file system",
         Some(OWN_DIR_HINT)),
    case("64-artifacts-dir-system.yaml", "4:8", "/etc",
         "the artifacts directory `/etc` is a system directory",
         Some(OWN_DIR_HINT)),
    case("65-artifacts-dir-tmp.yaml", "5:8", "/tmp",
         "the artifacts directory `/tmp` is a system directory",
         Some(OWN_DIR_HINT)),
    case("66-artifacts-dir-beside-config.yaml", "3:18", ".,",
         "the artifacts directory `tests/fixtures/invalid-config` holds this configuration file",
         Some(OWN_DIR_HINT)),
    case("67-artifacts-dir-parent.yaml", "4:8", "../invalid-config/..",
         "the artifacts directory `tests/fixtures` holds this configuration file",
         Some(OWN_DIR_HINT)),
    case("68-artifacts-dir-not-ours.yaml", "5:8", "journeys",
         "the artifacts directory `tests/fixtures/invalid-config/journeys` already holds files shopwatch did not write (`checkout-a.yaml`, `checkout-b.yaml`, `dot-shop.yaml`, ...)",
         Some(OWN_DIR_HINT)),
    case("69-artifacts-dir-is-a-file.yaml", "4:8", "journeys/shop.yaml",
         "the artifacts directory `tests/fixtures/invalid-config/journeys/shop.yaml` is a file, not a directory",
         Some("give a directory, e.g. `dir: shopwatch-artifacts`")),
    // Journey names become directory names: two that would be one directory.
    case("70-journey-artifact-dirs-differ-in-case.yaml", "3:5", "journeys/shop-upper-case.yaml",
         "journeys `shop` (tests/fixtures/invalid-config/journeys/shop.yaml) and `Shop` (tests/fixtures/invalid-config/journeys/shop-upper-case.yaml) would share an artifacts directory where case is ignored (`shop`, `Shop`)",
         Some(DIR_NAME_HINT)),
    case("71-journey-artifact-dirs-collide.yaml", "3:5", "journeys/underscore-shop.yaml",
         "journeys `.shop` (tests/fixtures/invalid-config/journeys/dot-shop.yaml) and `_shop` (tests/fixtures/invalid-config/journeys/underscore-shop.yaml) would share the artifacts directory `_shop`",
         Some(DIR_NAME_HINT)),
    case("72-alerting-pagerduty-key-in-clear.yaml", "6:22", "R0UTING-KEY-in-clear",
         "the PagerDuty integration key is a secret: anyone who has it can open incidents",
         Some("`routing_key: {secret: env:PAGERDUTY_ROUTING_KEY}`")),
    case("73-alerting-template-body-not-json.yaml", "7:15", "'{\"text\": {{ summary }}}'",
         "the body rendered for a sample alert is not JSON (expected value at line 1 column 10): {\"text\": sample summary}",
         Some("put texts in with `|tojson`")),
    case("74-alerting-template-unknown-name.yaml", "7:15", "'{\"text\": {{ sumary|tojson }}}'",
         "`body` is not a working template: `sumary` is not a field of a notification; did you mean `summary`?",
         Some("templates are Jinja2")),
    case("75-alerting-ntfy-bad-topic.yaml", "6:16", "shop alerts",
         "`shop alerts` is not an ntfy topic",
         Some("1 to 64 letters, digits, `-` and `_`")),
    case("76-alerting-telegram-without-chat-id.yaml", "5:7", "telegram:",
         "a telegram sink needs `chat_id`",
         Some("e.g. `chat_id: -1001234567890`")),
    case("77-alerting-misspelt-setting.yaml", "7:9", "usrname:",
         "`usrname` is not a setting of a discord sink",
         Some("did you mean `username`? a discord sink takes `url`, `username`, and the filters")),
    case("79-alerting-webhook-bad-header.yaml", "8:11", "X Team:",
         "`X Team` is not a valid header name",
         Some("without spaces, e.g. `X-Api-Key`")),
    case("78-alerting-template-syntax-error.yaml", "9:11", "{{ title }}",
         "`body` is not a working template: syntax error: unexpected end of input, expected end of block (line 2 of the template)",
         Some("templates are Jinja2")),
    case("120-alerting-maintenance-bad-timezone.yaml", "6:17", "Europe/Paaris",
         "`Europe/Paaris` is not an IANA time zone name; did you mean `Europe/Paris`?",
         Some("write an IANA time zone name")),
    case("121-alerting-maintenance-never-opens.yaml", "5:13", "\"0 2 30 2 *\"",
         "`cron: 0 2 30 2 *` never opens the window: no date matches it",
         Some("check the day and month fields")),
    case("122-env-variable-not-set.yaml", "4:19", "\"http://${env:SHOPWATCH_TEST_UNSET_GRID}:4444\"",
         "environment variable `SHOPWATCH_TEST_UNSET_GRID` is not set (`${env:SHOPWATCH_TEST_UNSET_GRID}`)",
         Some("`EnvironmentFile=`")),
    case("123-probe-pin-not-a-hash.yaml", "6:19", "\"sha256:AbCd\"",
         "`sha256:AbCd` is not a SHA-256 public key pin",
         Some("as curl's --pinnedpubkey takes it")),
    case("124-probe-ca-file-and-insecure-skip-verify.yaml", "7:29", "true",
         "give one of `ca_file`, `pin_sha256` and `insecure_skip_verify`, not `ca_file` and `insecure_skip_verify`",
         Some("`pin_sha256` trusts one key")),
    case("125-probe-smtp-auth-over-plain-text.yaml", "6:13", "{user: orders",
         "AUTH over `tls: none` would send the password in clear text",
         Some("use `tls: starttls` (ports 25, 587) or `implicit` (465)")),
    case("126-probe-smtp-delivery-bad-address.yaml", "6:15", "shop monitor",
         "`shop monitor` is not a mail address",
         Some("an address such as `monitor@shop.example`")),
    case("128-alerting-depends-on-unknown-name.yaml", "6:16", "shop-hom",
         "no journey or probe named `shop-hom` is configured",
         Some("did you mean `shop-home`?")),
    case("129-alerting-depends-on-cycle.yaml", "6:28", "[shop-home]}",
         "probe shop-dns depends on itself: probe shop-dns → probe shop-home → probe shop-dns",
         Some("remove one link of the cycle")),
    case("130-alerting-depends-on-itself.yaml", "5:30", "shop-home",
         "probe shop-home cannot depend on itself",
         Some("list what must work for it to work")),
    case("131-probe-feed-unknown-format.yaml", "5:15", "google",
         "unknown feed format `google`",
         Some("`auto` (the default), `sitemap`, `google_shopping` or `csv`")),
    case("132-probe-feed-max-drop-not-a-percentage.yaml", "5:17", "0.2",
         "`max_drop: 0.2` is not a percentage under 100",
         Some("e.g. `20%`")),
    case("133-probe-heartbeat-token-in-clear.yaml", "5:14", "5f1e9a2c7d3b4e60aa",
         "the token is a secret: written here it would be in the file for anyone who reads it",
         Some("`token: {secret: env:ORDER_EXPORT_TOKEN}`")),
    case("134-probe-heartbeat-check-every-too-short.yaml", "5:20", "500ms",
         "`check_every: 500ms` is shorter than 1s",
         Some("e.g. `check_every: 1m`")),
    case("150-probe-catalog-source-not-http.yaml", "4:15", "ftp://erp.example/export.csv",
         "the source must be an http(s) URL or a file path, not `ftp://`",
         Some("e.g. `https://erp.example/export.csv`, or `exports/products.csv`")),
    case("151-probe-catalog-unknown-format.yaml", "5:15", "xml",
         "unknown source format `xml`",
         Some("`auto` (the default: JSON when it starts with `[` or `{`, else CSV), `csv` or `json`")),
    case("152-probe-catalog-tolerance-not-an-amount.yaml", "6:29", "5 cents",
         "`price_tolerance: 5 cents` is neither an amount nor a percentage",
         Some("or both (`[0.05, 1%]`: within either)")),
    case("153-probe-catalog-unknown-stock-rule.yaml", "7:14", "count",
         "unknown stock rule `count`",
         Some("`presence` (the default: in stock on both or out of stock on both) or `exact`")),
    case("154-probe-catalog-exact-stock-from-a-feed.yaml", "6:14", "exact",
         "`stock: exact` needs numbers, and a feed says only in or out of stock",
         Some("use `stock: presence` with `feed`")),
    case("155-probe-catalog-product-url-without-sku.yaml", "5:20", "https://shop.example/products/",
         "`product_url` has no `{sku}`: every SKU would be the same page",
         Some("e.g. `https://shop.example/products/{sku}`")),
    case("156-probe-catalog-price-selector-not-css.yaml", "6:23", "\".price[\"",
         "`.price[` is not a CSS selector: it ends too early (an unclosed bracket or quote?)",
         Some("e.g. `.product .price`")),
    case("157-probe-catalog-feed-and-product-url.yaml", "7:13", "https://shop.example/feeds",
         "give `product_url` or `feed`, not both",
         Some("`product_url` reads each SKU's page; `feed` reads the shop's feed once per run")),
    case("158-probe-catalog-sample-not-a-number.yaml", "6:15", "some",
         "`sample: some` is neither a number of SKUs nor `all`",
         Some("e.g. `sample: 20` (a different 20 each run)")),
    case("159-probe-catalog-nothing-to-read-on-the-page.yaml", "5:20", "https://shop.example/products/{sku}",
         "a product page needs `price_selector`, `stock_selector` or both: nothing would be compared",
         Some("CSS selectors for the elements that show them")),
    case("160-probe-feed-price-selector-not-css.yaml", "6:23", "\"div > > .price\"",
         "`div > > .price` is not a CSS selector: a combinator (`>`, `+`, `~`) with nothing after it at character 7",
         Some("e.g. `.product .price`")),
    case("127-probe-smtp-delivery-within-timeout.yaml", "8:17", "2m",
         "`within: 2m` is not shorter than the probe's timeout 1m",
         Some("set the probe's `timeout` to `within` plus time to send")),
    // The run history and who may read it.
    case("100-history-url-unknown-scheme.yaml", "4:8", "mysql://shopwatch@127.0.0.1/shopwatch",
         "`mysql` is not a history store shopwatch knows",
         Some("write `postgres://USER@HOST:PORT/DATABASE` for PostgreSQL, or `sqlite:PATH`")),
    case("101-history-password-in-url.yaml", "4:8", "postgres://shopwatch:hunter2@",
         "the history URL holds a password in clear",
         Some("`password: {secret: env:SHOPWATCH_HISTORY_PASSWORD}`")),
    case("102-history-password-in-clear.yaml", "5:13", "hunter2",
         "the history database password is a secret",
         Some("`password: {secret: env:SHOPWATCH_HISTORY_PASSWORD}`")),
    case("103-history-max-age-too-short.yaml", "4:12", "1h",
         "`max_age: 1h` keeps less than a day of history",
         Some("keep at least `1d`")),
    case("104-history-max-age-not-a-duration.yaml", "4:12", "forever",
         "`forever` is not a duration",
         Some("write a number with a unit")),
    case("105-history-password-for-sqlite.yaml", "5:13", "{secret: env:SHOPWATCH_HISTORY_PASSWORD}",
         "`password` is for a PostgreSQL history; a SQLite file has none",
         Some("leave `password` out")),
    case("106-state-dir-is-a-file.yaml", "3:12", "journeys/shop.yaml",
         "the state directory `tests/fixtures/invalid-config/journeys/shop.yaml` is a file, not a directory",
         Some("give a directory of its own")),
    case("107-history-misspelt-key.yaml", "4:3", "max_aeg:",
         "unknown key `max_aeg` (at history)",
         Some("did you mean `max_age`?")),
    case("108-ui-auth-off.yaml", "4:9", "off",
         "`auth: off` is not a way to protect the API",
         Some("or `auth: none` to leave the API open")),
    case("109-ui-auth-without-a-method.yaml", "4:3", "auth:",
         "`ui.auth` names no method",
         Some("`auth: {bearer: {token: {secret: env:SHOPWATCH_API_TOKEN}}}`")),
    case("110-ui-bearer-token-in-clear.yaml", "6:14", "0123456789abcdef",
         "the API token is a secret: anyone who has it sees every run and screenshot",
         Some("`token: {secret: env:SHOPWATCH_API_TOKEN}`")),
    case("111-ui-password-hash-not-argon2.yaml", "7:22", "hunter2",
         "`password_hash` is not an argon2 hash in PHC form",
         Some("Debian package `argon2`")),
    case("112-ui-basic-without-user.yaml", "5:5", "basic:",
         "basic auth needs `user`",
         Some("e.g. `user: admin`")),
    case("113-history-sqlite-path-is-a-directory.yaml", "4:8", "sqlite:journeys",
         "`tests/fixtures/invalid-config/journeys` is a directory, not a SQLite file",
         Some("name the file")),
    case("114-history-postgres-without-host.yaml", "4:8", "postgres:///shopwatch",
         "the PostgreSQL URL names no host",
         Some("e.g. `url: postgres://shopwatch@127.0.0.1:5432/shopwatch`")),
    // Status pages.
    case("140-status-page-unknown-journey.yaml", "5:16", "shopp",
         "no journey named `shopp` is configured",
         Some("did you mean `shop`?")),
    case("141-status-page-bad-name.yaml", "4:11", "shop nl",
         "`shop nl` cannot be a status page's name",
         Some("use 1 to 64 letters, digits, `-` and `_`")),
    case("142-status-page-duplicate-name.yaml", "6:11", "shop",
         "a second status page is named `shop`",
         Some("rename one")),
    case("143-status-page-lists-nothing.yaml", "4:5", "name:",
         "status page `shop` lists no journeys and no probes",
         Some("`journeys: [checkout]`")),
    case("144-status-page-misspelt-key.yaml", "6:5", "show_reason:",
         "unknown key `show_reason`",
         Some("did you mean `show_reasons`?")),
    case("145-status-page-show-reasons-not-a-bool.yaml", "6:19", "sometimes",
         "invalid boolean",
         None),
    case("146-status-page-unknown-probe.yaml", "7:14", "shop-hom",
         "no probe named `shop-hom` is configured",
         Some("did you mean `shop-home`?")),
    case("147-status-page-empty-title.yaml", "5:12", "\"\"",
         "`title` is empty",
         Some("leave it out for the name")),
    case("148-status-pages-not-a-list.yaml", "4:3", "name: shop",
         "invalid type: map, expected a list",
         Some("`status_pages` is a list of pages")),
    case("170-alerting-slower-factor-not-over-one.yaml", "5:13", "0.5",
         "`factor` must be more than 1, not 0.5",
         Some("more than `factor` times its normal time")),
    case("171-alerting-slower-runs-zero.yaml", "4:42", "0 }",
         "`runs` must be from 1 to 100, not 0",
         Some("the median of the step's last `runs` times")),
    case("172-alerting-slower-weeks-too-many.yaml", "9:16", "60",
         "`weeks` must be from 1 to 52, not 60",
         Some("over this many past weeks")),
    case("173-alerting-slower-unknown-normal.yaml", "5:13", "hour_of_the_week",
         "`normal: hour_of_the_week` is not a way to take a normal",
         Some("did you mean `hour_of_week`?")),
    case("174-alerting-slower-misspelt-key.yaml", "5:5", "factr:",
         "unknown key `factr`",
         Some("did you mean `factor`?")),
    case("175-alerting-slower-factor-not-a-number.yaml", "5:13", "three",
         "invalid type: string \"three\"",
         None),
    case("176-probe-metric-url-and-prometheus.yaml", "6:19", "http://127.0.0.1:9090",
         "a metric probe reads `url` or `prometheus`, not both",
         Some("make one probe of each")),
    case("177-probe-metric-url-without-pointer.yaml", "2:5", "metric:",
         "a metric probe with `url` needs a `pointer`",
         Some("e.g. `pointer: /registrations/last_hour`")),
    case("178-probe-metric-pointer-without-slash.yaml", "5:16", "last_hour.registrations",
         "`last_hour.registrations` is not a JSON pointer",
         Some("a JSON pointer starts with `/`")),
    case("179-probe-metric-neither-above-nor-below.yaml", "2:5", "metric:",
         "a metric probe needs `above` or `below` (or both)",
         Some("e.g. `above: 200` and `below: 50`")),
    case("180-probe-metric-below-over-100.yaml", "7:14", "150",
         "`below` must be more than 0 and at most 100, not 150",
         Some("`below: 50` at half of it")),
    case("181-probe-metric-unknown-normal.yaml", "8:15", "dayly",
         "`normal: dayly` is not a way to take a normal",
         Some("did you mean `daily`?")),
    case("182-probe-metric-prometheus-without-query.yaml", "2:5", "metric:",
         "a metric probe with `prometheus` needs a `query`",
         Some("`query: sum(increase(shop_orders_total[1h]))`")),
    case("183-probe-metric-min-volume-negative.yaml", "8:19", "-5",
         "`min_volume` must be 0 or more, not -5",
         Some("too little to judge")),
    case("184-probe-heartbeat-normal-without-limits.yaml", "6:15", "daily",
         "`normal` is for comparing the count with its normal, which needs `above` or `below`",
         Some("e.g. `below: 50`")),
    case("185-probe-heartbeat-below-zero.yaml", "6:14", "0",
         "`below` must be more than 0 and at most 100, not 0",
         Some("a percentage of the normal")),
    case("186-probe-catalog-headers-with-file-source.yaml", "5:7", "headers",
         "headers are sent with a URL source; this source is a file",
         Some("give the export's URL as `source`")),
    case("187-probe-feed-header-name-invalid.yaml", "5:17", "\"X Feed Key\"",
         "`X Feed Key` is not a valid header name",
         Some("without spaces, e.g. `X-Api-Key`")),
    case("188-probe-metric-header-secret-without-name.yaml", "7:33", "'env:'",
         "`env:` needs a variable name",
         None),
];

/// What shopwatch printed, and how it exited.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs the real binary from the repository root and waits at most [`RUN_TIMEOUT`]; a child
/// still running then is killed (by its pid) and the test fails.
fn shopwatch(args: &[&str], configure: impl FnOnce(&mut Command)) -> Ran {
    let mut command = Command::new(env!("CARGO_BIN_EXE_shopwatch"));
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .env_remove("SHOPWATCH_LOG")
        .env_remove("SHOPWATCH_WEBDRIVER")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    configure(&mut command);
    let mut child = command.spawn().expect("start shopwatch");
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let stdout = thread::spawn(move || {
        let mut text = String::new();
        let _ = out.read_to_string(&mut text);
        text
    });
    let stderr = thread::spawn(move || {
        let mut text = String::new();
        let _ = err.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + RUN_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for shopwatch") {
            break status;
        }
        if Instant::now() >= deadline {
            let pid = child.id();
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`shopwatch {}` (pid {pid}) was still running after {RUN_TIMEOUT:?}: killed it",
                args.join(" ")
            );
        }
        thread::sleep(Duration::from_millis(20));
    };
    Ran {
        code: status.code(),
        stdout: stdout.join().expect("read stdout"),
        stderr: stderr.join().expect("read stderr"),
    }
}

/// The diagnostics in `stderr` (`file:line:column: ...` and their hints), without log lines.
fn diagnostic_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.starts_with("tests/") || l.starts_with("  hint: "))
        .collect()
}

#[test]
fn each_invalid_config_reports_its_one_error_where_it_is() {
    let mut problems = Vec::new();
    for case in INVALID {
        problems.extend(check_one_error(
            &case.config(),
            &case.reported_file(),
            case.expectation(),
        ));
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// `run` refuses each invalid configuration with the diagnostics `validate` prints, at once,
/// before listening or running anything.
#[test]
fn run_refuses_each_invalid_config_before_starting_anything() {
    let artifacts = manifest_path(&format!("{DIR}/shopwatch-artifacts"));
    let mut problems = Vec::new();
    for case in INVALID {
        let file = case.config();
        let validated = validate(&[&file]);
        let validated = String::from_utf8_lossy(&validated.stderr);
        let ran = shopwatch(&["run", "--config", &file], |_| {});
        if ran.code != Some(2) {
            problems.push(format!(
                "{file}: run exited {:?}, wanted 2; stderr:\n{}",
                ran.code, ran.stderr
            ));
        }
        let (want, got) = (diagnostic_lines(&validated), diagnostic_lines(&ran.stderr));
        if want.is_empty() || want != got {
            problems.push(format!(
                "{file}: run printed\n{}\nbut validate printed\n{}",
                got.join("\n"),
                want.join("\n")
            ));
        }
        if ran.stderr.contains("monitoring from") || ran.stderr.contains("metrics on") {
            problems.push(format!("{file}: run started monitoring:\n{}", ran.stderr));
        }
        if !ran.stdout.is_empty() {
            problems.push(format!("{file}: stdout should be empty: {}", ran.stdout));
        }
    }
    assert!(
        !artifacts.exists(),
        "{} was created by a configuration that was refused",
        artifacts.display()
    );
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// tests/fixtures/invalid-config/several-errors/shopwatch.yaml: every mistake in it, and in
/// the journey file it names.
#[rustfmt::skip]
const SEVERAL: &[Case] = &[
    case("several-errors/shopwatch.yaml", "2:9", "localhost:9464",
         "`localhost:9464`: `listen` takes an IP address, not a host name",
         Some("host names are not resolved here")),
    case("several-errors/shopwatch.yaml", "4:17", "0",
         "`max_sessions` must be at least 1",
         Some("how many browser sessions")),
    Case {
        reported_in: Some("several-errors/../broken-journeys/two-errors.yaml"),
        ..case("several-errors/shopwatch.yaml", "3:8", "5s",
               "`every: 5s` is shorter than the 10s minimum",
               None)
    },
    Case {
        reported_in: Some("several-errors/../broken-journeys/two-errors.yaml"),
        ..case("several-errors/shopwatch.yaml", "8:16", "{ selector: \"#buy\", xpath:",
               "give exactly one of `selector`, `xpath` or `link_text` (found `selector` and `xpath`)",
               None)
    },
    case("several-errors/shopwatch.yaml", "8:5", "../journeys/missing.yaml",
         "journey file `tests/fixtures/invalid-config/several-errors/../journeys/missing.yaml` does not exist",
         Some(RELATIVE_HINT)),
    case("several-errors/shopwatch.yaml", "10:13", "lots",
         "`lots` is not a size",
         Some("`500MB` or `1GiB`")),
    case("several-errors/shopwatch.yaml", "12:11", "30s",
         "window 30s is shorter than the 1m minimum",
         Some("the default is 1h")),
    case("several-errors/shopwatch.yaml", "17:14", "5s",
         "`every: 5s` is shorter than the 10s minimum",
         None),
];

#[test]
fn all_errors_in_a_config_and_its_journeys_are_reported_in_one_run() {
    let file = SEVERAL[0].config();
    let validated = validate(&[&file]);
    let stderr = String::from_utf8_lossy(&validated.stderr).into_owned();
    assert_eq!(validated.status.code(), Some(2), "stderr:\n{stderr}");
    let mut problems: Vec<String> = SEVERAL
        .iter()
        .flat_map(|case| check_diagnostic(&case.reported_file(), &stderr, case.expectation()))
        .collect();
    let reported = stderr
        .lines()
        .filter(|l| !l.starts_with("  hint: "))
        .count();
    if reported != SEVERAL.len() {
        problems.push(format!(
            "{reported} errors reported, wanted {}",
            SEVERAL.len()
        ));
    }

    let ran = shopwatch(&["run", "--config", &file], |_| {});
    if ran.code != Some(2) {
        problems.push(format!("run exited {:?}, wanted 2", ran.code));
    }
    if diagnostic_lines(&ran.stderr) != diagnostic_lines(&stderr) {
        problems.push(format!(
            "run printed other diagnostics than validate:\n{}",
            ran.stderr
        ));
    }
    assert!(
        problems.is_empty(),
        "{}\nstderr:\n{stderr}",
        problems.join("\n")
    );
}

/// Every fixture on disk has an expectation, and every expectation a fixture.
#[test]
fn the_table_covers_every_fixture() {
    let mut on_disk: Vec<String> = std::fs::read_dir(manifest_path(DIR))
        .expect("list fixtures")
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".yaml") || name.ends_with(".yml"))
        .collect();
    on_disk.sort();
    let mut in_table: Vec<String> = INVALID.iter().map(|c| c.fixture.to_string()).collect();
    in_table.sort();
    in_table.dedup();
    assert_eq!(in_table.len(), INVALID.len(), "a fixture is listed twice");
    assert_eq!(on_disk, in_table);
    assert!(INVALID.len() >= 20);
    for case in INVALID {
        if let Some(file) = case.reported_in {
            assert!(
                manifest_path(&format!("{DIR}/{file}")).is_file(),
                "{}: {file} does not exist",
                case.fixture
            );
        }
    }
}

/// The journeys the fixtures name are valid themselves: each fixture's error is its own.
#[test]
fn the_helper_journeys_are_valid() {
    let mut files: Vec<String> = std::fs::read_dir(manifest_path(&format!("{DIR}/journeys")))
        .expect("list helper journeys")
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".yaml"))
        .map(|name| format!("{DIR}/journeys/{name}"))
        .collect();
    files.sort();
    assert!(files.len() >= 3);
    let args: Vec<&str> = files.iter().map(String::as_str).collect();
    let output = validate(&args);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "stderr:\n{stderr}");
    for file in &files {
        assert!(
            stdout.contains(&format!("{file}: journey `")),
            "{file} not reported valid:\n{stdout}"
        );
    }
}

#[test]
fn run_with_a_missing_config_names_the_file() {
    let file = format!("{DIR}/no-such-config.yaml");
    assert!(!manifest_path(&file).exists());
    let ran = shopwatch(&["run", "--config", &file], |_| {});
    assert_eq!(ran.code, Some(2), "stderr:\n{}", ran.stderr);
    assert!(
        ran.stderr
            .starts_with(&format!("{file}:1:1: cannot read configuration file: ")),
        "stderr:\n{}",
        ran.stderr
    );
}

#[test]
fn run_with_a_journey_instead_of_a_config_says_so() {
    let file = format!("{DIR}/journeys/shop.yaml");
    let ran = shopwatch(&["run", "--config", &file], |_| {});
    assert_eq!(ran.code, Some(2), "stderr:\n{}", ran.stderr);
    assert!(
        ran.stderr.starts_with(&format!(
            "{file}:1:1: this is a journey file, not a monitor configuration"
        )),
        "stderr:\n{}",
        ran.stderr
    );
    assert!(
        ran.stderr.contains("hint: list it under `journeys:`"),
        "stderr:\n{}",
        ran.stderr
    );
}

/// A temporary directory with a configuration `shopwatch.yaml` and the journey `shop.yaml`.
fn temp_config(config: &str, journey: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("shop.yaml"), journey).expect("write journey");
    let file = dir.path().join("shopwatch.yaml");
    std::fs::write(&file, config).expect("write config");
    let file = file.to_string_lossy().into_owned();
    (dir, file)
}

#[test]
fn run_stops_on_an_env_secret_that_is_not_set() {
    const VAR: &str = "SHOPWATCH_TEST_UNSET_SECRET";
    let journey = format!(
        "journey: secret-login\nbase_url: https://shop.example.com\nevery: 5m\nvars:\n  password: {{ secret: env:{VAR} }}\nsteps:\n  - step: login\n    do:\n      - open: /login\n      - fill: {{ selector: \"#password\", value: \"${{password}}\" }}\n"
    );
    let (dir, file) = temp_config("listen: 127.0.0.1:0\njourneys: [shop.yaml]\n", &journey);
    // The configuration itself is valid: the secret is looked up when the monitor starts.
    let validated = validate(&[&file]);
    assert_eq!(
        validated.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&validated.stderr)
    );

    let ran = shopwatch(&["run", "--config", &file], |command| {
        command.env_remove(VAR);
    });
    assert_eq!(ran.code, Some(2), "stderr:\n{}", ran.stderr);
    assert!(
        ran.stderr.contains(VAR) && ran.stderr.contains("journey `secret-login`"),
        "the error must name the variable and the journey; stderr:\n{}",
        ran.stderr
    );
    assert!(
        !ran.stderr.contains("monitoring from"),
        "stderr:\n{}",
        ran.stderr
    );
    assert!(!dir.path().join("shopwatch-artifacts").exists());
}

#[test]
fn run_stops_on_a_sink_secret_that_is_not_set() {
    const VAR: &str = "SHOPWATCH_TEST_UNSET_WEBHOOK_SECRET";
    let config = format!(
        "listen: 127.0.0.1:0\nprobes:\n  - http: {{name: nothing, url: \"http://127.0.0.1:9/\", every: 1m}}\nalerting:\n  sinks:\n    - webhook: {{url: \"http://127.0.0.1:9/hook\", secret: {{secret: env:{VAR}}}}}\n"
    );
    let (_dir, file) = temp_config(&config, "");
    let ran = shopwatch(&["run", "--config", &file], |command| {
        command.env_remove(VAR);
    });
    assert_eq!(ran.code, Some(2), "stderr:\n{}", ran.stderr);
    assert!(
        ran.stderr.contains(VAR) && ran.stderr.contains("alerting sink `webhook`"),
        "the error must name the variable and the sink; stderr:\n{}",
        ran.stderr
    );
    assert!(
        !ran.stderr.contains("monitoring from"),
        "stderr:\n{}",
        ran.stderr
    );
}

/// `file: /dev/zero` (or any file far larger than a secret) is refused after 64 KiB, at once,
/// naming the file, the variable or sink, the cap and what to do.
#[test]
fn run_refuses_an_endless_secret_file_quickly() {
    let journey = "journey: secret-login\nbase_url: https://shop.example.com\nevery: 5m\nvars:\n  password: { secret: file:/dev/zero, default: unused }\nsteps:\n  - step: login\n    do:\n      - fill: { selector: \"#password\", value: \"${password}\" }\n";
    let (_dir, file) = temp_config("listen: 127.0.0.1:0\njourneys: [shop.yaml]\n", journey);
    let started = Instant::now();
    let ran = shopwatch(&["run", "--config", &file], |_| {});
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(ran.code, Some(2), "stderr:\n{}", ran.stderr);
    assert!(
        ran.stderr.contains(
            "journey `secret-login`, var `password`: secret file /dev/zero holds more than 64 KiB, the most a secret may be: point `file:` at a file that holds only the secret"
        ),
        "stderr:\n{}",
        ran.stderr
    );

    let config = "listen: 127.0.0.1:0\nprobes:\n  - http: {name: nothing, url: \"http://127.0.0.1:9/\", every: 1m}\nalerting:\n  sinks:\n    - webhook: {url: \"http://127.0.0.1:9/hook\", secret: {secret: file:/dev/zero}}\n";
    let (_dir, file) = temp_config(config, "");
    let started = Instant::now();
    let ran = shopwatch(&["run", "--config", &file], |_| {});
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(ran.code, Some(2), "stderr:\n{}", ran.stderr);
    assert!(
        ran.stderr.contains(
            "alerting sink `webhook`: secret file /dev/zero holds more than 64 KiB, the most a secret may be: point `file:` at a file that holds only the secret"
        ),
        "stderr:\n{}",
        ran.stderr
    );
}

/// An email sink's `ca_file` larger than 1 MiB is refused at start (and by `alert test`), at
/// once, naming the file, the sink, the cap and what to do.
#[test]
fn an_oversized_email_ca_file_is_refused_quickly() {
    let config = "listen: 127.0.0.1:0\nprobes:\n  - http: {name: nothing, url: \"http://127.0.0.1:9/\", every: 1m}\nalerting:\n  sinks:\n    - email: {name: mail, smtp: \"smtps://127.0.0.1:9\", from: shopwatch@example.com, to: [oncall@example.com], ca_file: big.pem}\n";
    let (dir, file) = temp_config(config, "");
    let big = dir.path().join("big.pem");
    std::fs::write(&big, vec![b'A'; 1024 * 1024 + 1]).expect("write big.pem");
    let message = format!(
        "ca_file {} holds more than 1 MiB, the most a CA file may be: point `ca_file` at a PEM file with only the CA certificates to trust",
        big.display()
    );
    let started = Instant::now();
    let ran = shopwatch(&["run", "--config", &file], |_| {});
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(ran.code, Some(2), "stderr:\n{}", ran.stderr);
    assert!(
        ran.stderr
            .contains(&format!("alerting sink `mail`: {message}")),
        "stderr:\n{}",
        ran.stderr
    );
    let ran = shopwatch(&["alert", "test", "--config", &file], |_| {});
    assert_eq!(ran.code, Some(1), "stdout:\n{}", ran.stdout);
    assert!(
        ran.stdout
            .contains(&format!("FAILED  mail (email): {message}")),
        "stdout:\n{}",
        ran.stdout
    );
}

/// A journey or configuration that is not one (`/dev/zero`) is refused after 4 MiB.
#[test]
fn validate_refuses_an_endless_file_quickly() {
    let started = Instant::now();
    let ran = shopwatch(&["validate", "/dev/zero"], |_| {});
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(ran.code, Some(2), "stderr:\n{}", ran.stderr);
    assert!(
        ran.stderr.contains(
            "/dev/zero:1:1: this journey or configuration file holds more than 4 MiB, the most a journey or configuration file may be: is it the file you meant?"
        ),
        "stderr:\n{}",
        ran.stderr
    );
}

#[test]
fn run_stops_when_its_listen_address_is_taken() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = taken.local_addr().expect("local address");
    // Only an http probe, so no browser is needed; nothing answers on port 9 of localhost.
    let config = format!(
        "listen: {addr}\nprobes:\n  - http: {{name: nothing, url: \"http://127.0.0.1:9/\", every: 1m}}\n"
    );
    let (_dir, file) = temp_config(&config, "");
    let ran = shopwatch(&["run", "--config", &file], |_| {});
    drop(taken);
    assert_eq!(ran.code, Some(3), "stderr:\n{}", ran.stderr);
    assert!(
        ran.stderr.contains(&format!("cannot listen on {addr}")),
        "stderr:\n{}",
        ran.stderr
    );
}

#[test]
fn validate_accepts_a_valid_config_from_another_directory() {
    let journey = "journey: shop\nbase_url: https://shop.example.com\nevery: 5m\nsteps:\n  - step: home\n    do:\n      - open: /\n";
    let config = "listen: 0.0.0.0:9464\nlocation: test\nwebdriver:\n  url: http://127.0.0.1:4444\n  max_sessions: 2\njourneys:\n  - file: shop.yaml\n    base_url: https://staging.shop.example.com\nartifacts:\n  max_age: 7d\n  max_size: 1GiB\nmetrics:\n  window: 1h\n  step_buckets: [0.5, 1, 2.5]\nprobes:\n  - http: {name: home, url: \"https://shop.example.com/\", every: 15s}\n";
    // Run from the repository root: `shop.yaml` is found beside the configuration.
    let (_dir, file) = temp_config(config, journey);
    let output = validate(&[&file]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "stderr:\n{stderr}");
    assert_eq!(
        stdout.trim_end(),
        format!("{file}: configuration is valid (1 journeys: shop; 1 probes)")
    );
}

#[test]
fn the_shipped_configs_are_valid() {
    for file in ["shopwatch.yaml", "docker/shopwatch.yaml"] {
        let output = validate(&[file]);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{file}: stderr:\n{stderr}");
        assert!(
            stdout.starts_with(&format!("{file}: configuration is valid")),
            "{file}: stdout:\n{stdout}"
        );
    }
}
