//! The sinks for services that cannot be reached from here (PagerDuty, Opsgenie, Microsoft
//! Teams, Telegram, Discord, ntfy, and an SMS gateway behind the template sink), sent for real by
//! the real `shopwatch run` and `shopwatch alert test` to a local HTTP receiver on 127.0.0.1 that
//! records each request. Each sink's URL setting points at the receiver, so what is checked is
//! the request the service would get: path, authentication, and the body in the service's
//! documented format. Whether the real services accept it is what the payload unit tests next
//! to each sink check against the services' documented examples.

mod util;

use std::path::Path;
use std::time::{Duration, Instant};
use util::alerting::{Received, WebhookReceiver};
use util::monitor::{get_text, write, Monitor};
use util::{start_shop, Fault};

const PAGERDUTY_KEY: &str = "R0UTING-KEY-pd-5e1f";
const OPSGENIE_KEY: &str = "genie-key-9c2b-7a1d";
const TELEGRAM_TOKEN: &str = "123456789:AAH-telegram-t0ken";
const NTFY_TOKEN: &str = "tk_ntfy0access0token";
const NTFY_TOPIC: &str = "shop-alerts-s3cr3t-topic";
const SMS_KEY: &str = "sms-api-key-41f0";
/// The secret parts of the Teams and Discord webhook URLs.
const TEAMS_SIG: &str = "sig-teams-0b7e";
const DISCORD_TOKEN: &str = "discord-webhook-t0ken";

fn secrets() -> [&'static str; 8] {
    [
        PAGERDUTY_KEY,
        OPSGENIE_KEY,
        TELEGRAM_TOKEN,
        NTFY_TOKEN,
        NTFY_TOPIC,
        SMS_KEY,
        TEAMS_SIG,
        DISCORD_TOKEN,
    ]
}

/// The environment the configuration's secrets are read from.
fn env(receiver: &str) -> Vec<(&'static str, String)> {
    vec![
        ("PAGERDUTY_ROUTING_KEY", PAGERDUTY_KEY.into()),
        ("OPSGENIE_API_KEY", OPSGENIE_KEY.into()),
        (
            "TEAMS_WORKFLOW_URL",
            format!("{receiver}/teams/workflows/triggers/manual/paths/invoke?sig={TEAMS_SIG}"),
        ),
        ("TELEGRAM_BOT_TOKEN", TELEGRAM_TOKEN.into()),
        (
            "DISCORD_WEBHOOK_URL",
            format!("{receiver}/discord/api/webhooks/1234/{DISCORD_TOKEN}"),
        ),
        ("NTFY_TOPIC", NTFY_TOPIC.into()),
        ("NTFY_TOKEN", NTFY_TOKEN.into()),
        ("SMS_KEY", SMS_KEY.into()),
    ]
}

/// One sink of each kind, all at `receiver`, for a probe of `shop_url` every 10 s.
fn config(dir: &Path, shop_url: &str, receiver: &str) -> std::path::PathBuf {
    write(
        dir,
        "shopwatch.yaml",
        &format!(
            r#"listen: 127.0.0.1:0
location: test-lab
probes:
  - http: {{name: shop-home, url: "{shop_url}/", every: 10s, timeout: 5s}}
alerting:
  failure_threshold: 1
  recovery_threshold: 1
  state_file: state/alerts.json
  sinks:
    - pagerduty:
        routing_key: {{secret: env:PAGERDUTY_ROUTING_KEY}}
        url: {receiver}/pagerduty/v2/enqueue
    - opsgenie:
        api_key: {{secret: env:OPSGENIE_API_KEY}}
        url: {receiver}/opsgenie
        tags: [shop]
    - teams:
        url: {{secret: env:TEAMS_WORKFLOW_URL}}
    - telegram:
        bot_token: {{secret: env:TELEGRAM_BOT_TOKEN}}
        chat_id: -1001234567890
        api_url: {receiver}/telegram
    - discord:
        url: {{secret: env:DISCORD_WEBHOOK_URL}}
        username: shopwatch
    - ntfy:
        url: {receiver}/ntfy
        topic: {{secret: env:NTFY_TOPIC}}
        token: {{secret: env:NTFY_TOKEN}}
    - template:
        name: sms
        url: {receiver}/sms/send
        headers:
          Authorization: "Key {{{{ secrets.key }}}}"
        secrets:
          key: {{secret: env:SMS_KEY}}
        body: |
          {{"to": "+4915112345678", "text": {{{{ (title ~ ": " ~ summary)|tojson }}}}, "event": {{{{ event|tojson }}}}}}
"#
        ),
    )
}

/// The requests whose path starts with `prefix`.
fn at(received: &[Received], prefix: &str) -> Vec<Received> {
    received
        .iter()
        .filter(|r| r.path.starts_with(prefix))
        .cloned()
        .collect()
}

/// Waits until `done` holds for what the receiver got.
async fn wait_until(
    receiver: &WebhookReceiver,
    what: &str,
    within: Duration,
    done: impl Fn(&[Received]) -> bool,
) -> Vec<Received> {
    let deadline = Instant::now() + within;
    loop {
        let received = receiver.received();
        if done(&received) {
            return received;
        }
        assert!(
            Instant::now() < deadline,
            "{what} within {within:?}; the receiver got: {received:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Each new path prefix, and how many requests one firing plus one resolve make there.
const PATHS: [(&str, usize); 7] = [
    ("/pagerduty/v2/enqueue", 2),
    ("/opsgenie/v2/alerts", 2),
    ("/teams/workflows/", 2),
    ("/telegram/bot", 2),
    ("/discord/api/webhooks/1234/", 2),
    ("/ntfy", 2),
    ("/sms/send", 2),
];

fn assert_no_secret(what: &str, text: &str) {
    for secret in secrets() {
        assert!(!text.contains(secret), "{what} holds {secret:?}:\n{text}");
    }
}

/// The shop goes down and comes back: every sink gets the firing and the resolve, each in its
/// service's format, the incident tools with one key that ties the two together.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sink_kind_gets_the_firing_and_the_resolve_in_its_format() {
    let shop = start_shop().await;
    shop.set_faults(vec![Fault::Status {
        path_prefix: "/".into(),
        code: 503,
    }]);
    let receiver = WebhookReceiver::start().await;
    let work = tempfile::Builder::new()
        .prefix("shopwatch-sinks-")
        .tempdir()
        .unwrap();
    let config = config(work.path(), &shop.url(), &receiver.url);
    let env = env(&receiver.url);
    let envs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut monitor = Monitor::start_with_env(&config, work, &envs);
    let metrics_url = monitor.metrics_url();

    let fired = wait_until(
        &receiver,
        "a firing at every sink",
        Duration::from_secs(90),
        |r| PATHS.iter().all(|(path, _)| !at(r, path).is_empty()),
    )
    .await;

    // PagerDuty: a trigger with the routing key and a dedup key.
    let trigger = at(&fired, "/pagerduty/")[0].json();
    assert_eq!(trigger["routing_key"], PAGERDUTY_KEY);
    assert_eq!(trigger["event_action"], "trigger");
    assert_eq!(trigger["payload"]["severity"], "critical");
    assert_eq!(trigger["payload"]["source"], "test-lab");
    assert_eq!(trigger["payload"]["component"], "shop-home");
    let dedup_key = trigger["dedup_key"].as_str().unwrap().to_string();
    assert_eq!(dedup_key, "shopwatch/test-lab/ProbeFailed{probe=shop-home}");
    // Opsgenie: created with the GenieKey, aliased.
    let create = &at(&fired, "/opsgenie/")[0];
    assert_eq!(create.method, "POST");
    assert_eq!(
        create.header("authorization"),
        Some(format!("GenieKey {OPSGENIE_KEY}").as_str())
    );
    let body = create.json();
    assert_eq!(body["priority"], "P1");
    assert_eq!(
        body["tags"],
        serde_json::json!(["shopwatch", "ProbeFailed", "shop"])
    );
    let alias = body["alias"].as_str().unwrap().to_string();
    // Teams: an Adaptive Card.
    let card = at(&fired, "/teams/")[0].json();
    assert_eq!(
        card["attachments"][0]["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert!(card["attachments"][0]["content"]["body"][0]["text"]
        .as_str()
        .unwrap()
        .starts_with("[FIRING] ProbeFailed critical: probe shop-home"));
    // Telegram: sendMessage of the bot, to the chat.
    let telegram = &at(&fired, "/telegram/")[0];
    assert_eq!(
        telegram.path,
        format!("/telegram/bot{TELEGRAM_TOKEN}/sendMessage")
    );
    let message = telegram.json();
    assert_eq!(message["chat_id"], "-1001234567890");
    assert_eq!(message["parse_mode"], "HTML");
    assert!(message["text"]
        .as_str()
        .unwrap()
        .contains("<b>[FIRING] ProbeFailed"));
    // Discord: one embed, nobody mentioned.
    let discord = at(&fired, "/discord/")[0].json();
    assert_eq!(discord["username"], "shopwatch");
    assert_eq!(discord["allowed_mentions"]["parse"], serde_json::json!([]));
    assert_eq!(discord["embeds"][0]["color"], 0xdc2626);
    // ntfy: the topic and the bearer token.
    let ntfy = &at(&fired, "/ntfy")[0];
    assert_eq!(
        ntfy.header("authorization"),
        Some(format!("Bearer {NTFY_TOKEN}").as_str())
    );
    let push = ntfy.json();
    assert_eq!(push["topic"], NTFY_TOPIC);
    assert_eq!(push["priority"], 5);
    // The SMS gateway: the user's template, with its secret in the header.
    let sms = &at(&fired, "/sms/")[0];
    assert_eq!(
        sms.header("authorization"),
        Some(format!("Key {SMS_KEY}").as_str())
    );
    assert_eq!(sms.header("content-type"), Some("application/json"));
    let text = sms.json();
    assert_eq!(text["to"], "+4915112345678");
    assert_eq!(text["event"], "firing");
    assert!(text["text"]
        .as_str()
        .unwrap()
        .starts_with("[FIRING] ProbeFailed critical: probe shop-home: "));

    // Fixed: the resolve reaches each, the incident tools by the same key.
    shop.clear_faults();
    let resolved = wait_until(
        &receiver,
        "a resolve at every sink",
        Duration::from_secs(90),
        |r| PATHS.iter().all(|(path, n)| at(r, path).len() >= *n),
    )
    .await;
    let resolve = at(&resolved, "/pagerduty/")[1].json();
    assert_eq!(
        resolve,
        serde_json::json!({"routing_key": PAGERDUTY_KEY, "event_action": "resolve", "dedup_key": dedup_key})
    );
    let close = &at(&resolved, "/opsgenie/")[1];
    assert!(
        close.path.ends_with("/close"),
        "closed by its alias: {close:?}"
    );
    let segment = close
        .path
        .strip_prefix("/opsgenie/v2/alerts/")
        .and_then(|rest| rest.strip_suffix("/close"))
        .expect("/opsgenie/v2/alerts/{alias}/close");
    let decoded: String = url::form_urlencoded::parse(format!("a={segment}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap();
    assert_eq!(decoded, alias, "the alias, as one path segment");
    assert!(!segment.contains('/'), "{segment}");
    assert!(
        at(&resolved, "/teams/")[1].json()["attachments"][0]["content"]["body"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("[RESOLVED] ")
    );
    assert_eq!(
        at(&resolved, "/discord/")[1].json()["embeds"][0]["color"],
        0x2eb886
    );
    assert_eq!(at(&resolved, "/ntfy")[1].json()["priority"], 3);
    assert_eq!(at(&resolved, "/sms/")[1].json()["event"], "resolved");

    let metrics = get_text(&metrics_url).await;
    for sink in [
        "pagerduty",
        "opsgenie",
        "teams",
        "telegram",
        "discord",
        "ntfy",
        "sms",
    ] {
        assert!(
            metrics.contains(&format!(
                "shopwatch_notifications_total{{sink=\"{sink}\",result=\"sent\",location=\"test-lab\"}} 2"
            )),
            "{sink}: two sent\n{metrics}"
        );
    }
    let log = monitor.stop();
    assert_no_secret("shopwatch's log", &log);
}

/// `shopwatch alert test` reaches every kind; the incident tools get the test opened and closed
/// at once, so it leaves nothing open. A receiver that refuses is reported, without secrets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_test_reaches_every_kind_and_leaves_no_incident_open() {
    let receiver = WebhookReceiver::start().await;
    let work = tempfile::tempdir().unwrap();
    let config = config(work.path(), "http://127.0.0.1:9", &receiver.url);
    let run = |args: &[&str]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_shopwatch"));
        command.args(args);
        for (key, value) in env(&receiver.url) {
            command.env(key, value);
        }
        command.output().expect("run shopwatch")
    };
    let config_arg = config.to_str().unwrap();
    let out = run(&["alert", "test", "--config", config_arg]);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (name, kind) in [
        ("pagerduty", "pagerduty"),
        ("opsgenie", "opsgenie"),
        ("teams", "teams"),
        ("telegram", "telegram"),
        ("discord", "discord"),
        ("ntfy", "ntfy"),
        ("sms", "template"),
    ] {
        let line = format!("ok      {name} ({kind}): accepted the test alert");
        assert!(stdout.contains(&line), "{line:?} in\n{stdout}");
    }
    let received = receiver.received();
    let pagerduty: Vec<String> = at(&received, "/pagerduty/")
        .iter()
        .map(|r| r.json()["event_action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(pagerduty, ["trigger", "resolve"]);
    let opsgenie: Vec<String> = at(&received, "/opsgenie/")
        .iter()
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(opsgenie.len(), 2, "{opsgenie:?}");
    assert!(opsgenie[1].ends_with("/close"), "{opsgenie:?}");
    assert_eq!(at(&received, "/sms/")[0].json()["event"], "test");

    // The receiver refuses: each failure is reported with its status, and no secret.
    receiver.fail_next(100);
    let out = run(&["alert", "test", "--config", config_arg]);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("FAILED  telegram (telegram): HTTP 503 Service Unavailable"),
        "{stdout}"
    );
    assert_no_secret("alert test's output", &stdout);
    assert_no_secret("alert test's errors", &String::from_utf8_lossy(&out.stderr));
}
