//! A webhook whose request the user writes: body and header values are MiniJinja (Jinja2)
//! templates over the notification, so an SMS gateway, a chat or a ticket system without a sink
//! of its own is reached without code. Templates are checked at load: syntax, and a render of a
//! sample alert (an unknown name is an error, not an empty text; a JSON body must be JSON).
//!
//! In a template: every field of the [webhook JSON](crate::alert::notification::Notification)
//! (`alert`, `severity`, `summary`, `journey`, `step`, `reason`, `steps`, ...), `title` and
//! `text` (the notification as plain text), and `secrets.NAME` for each of `secrets:`.

use super::check::SinkCheck;
use super::send::{accepted, SendError};
use super::{read_secret, sink_file, Deliver, Kind};
use crate::alert::notification::{Event, Notification};
use crate::alert::SecretValue;
use crate::secret::redact::Redactor;
use crate::yaml::scalars::http_url;
use crate::yaml::secret::VarFile;
use minijinja::{Environment, UndefinedBehavior};
use std::collections::BTreeMap;

/// Bounds the work of one render: a loop over a huge range cannot stall delivery.
const FUEL: u64 = 100_000;
const METHODS: [(&str, Method); 4] = [
    ("POST", Method::Post),
    ("PUT", Method::Put),
    ("PATCH", Method::Patch),
    ("GET", Method::Get),
];

sink_file! {
    /// `- template: {url: ..., body: "...", headers: {...}, secrets: {...}}`.
    {
        /// Where to send: text, or a secret (a URL with a key in it).
        url: Option<VarFile>,
        /// `POST` (default), `PUT`, `PATCH` or `GET` (without a body).
        method: Option<String>,
        /// Header values are templates.
        headers: Option<BTreeMap<String, String>>,
        /// The body template; required except with `GET`.
        body: Option<String>,
        /// Default `application/json` (the body must then render to JSON).
        content_type: Option<String>,
        /// Named secrets, `secrets.NAME` in the templates.
        secrets: Option<BTreeMap<String, VarFile>>,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Post,
    Put,
    Patch,
    Get,
}

impl Method {
    fn reqwest(self) -> reqwest::Method {
        match self {
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Patch => reqwest::Method::PATCH,
            Method::Get => reqwest::Method::GET,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub url: SecretValue,
    pub method: Method,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    pub content_type: String,
    pub secrets: Vec<(String, SecretValue)>,
}

/// The environment every template renders in: Jinja2's builtins, unknown names an error.
fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env
}

/// What a template sees for `n`.
fn context(n: &Notification, secrets: &BTreeMap<String, String>) -> minijinja::Value {
    let mut fields = serde_json::to_value(n).expect("a notification serializes");
    fields["title"] = n.title().into();
    fields["text"] = n.plain_text().into();
    fields["secrets"] = serde_json::to_value(secrets).expect("texts serialize");
    minijinja::Value::from(minijinja::value::Serde(fields))
}

/// A template's problem in one line: what, and where in the template.
fn describe(error: &minijinja::Error) -> String {
    let mut text = error.kind().to_string();
    if let Some(detail) = error.detail() {
        text.push_str(&format!(": {detail}"));
    }
    if let Some(line) = error.line() {
        text.push_str(&format!(" (line {line} of the template)"));
    }
    text
}

impl Kind for Settings {
    type File = File;
    type Sender = TemplateWebhook;

    fn check(file: &File, c: &mut SinkCheck) -> Option<Settings> {
        let url = match &file.url {
            None => {
                c.missing("url", "e.g. `url: https://sms.example.com/send`, or `{secret: env:SMS_URL}` when the URL holds a key");
                None
            }
            Some(VarFile::Text(text)) => match http_url("the template url", text) {
                Ok(_) => Some(SecretValue::Text(text.clone())),
                Err(problem) => {
                    c.error("url", problem, "e.g. `url: https://sms.example.com/send`");
                    None
                }
            },
            Some(value) => Some(c.var("url", value)),
        };
        let method = match &file.method {
            Some(text) => c.one_of("method", &text.to_ascii_uppercase(), &METHODS),
            None => Some(Method::Post),
        };
        let content_type = file
            .content_type
            .clone()
            .unwrap_or_else(|| "application/json".to_string());
        if http::HeaderValue::from_str(&content_type).is_err() {
            c.error(
                "content_type",
                format!("`{content_type}` is not a content type"),
                "e.g. `content_type: application/x-www-form-urlencoded`",
            );
        }
        let mut secrets = Vec::new();
        for (name, value) in file.secrets.iter().flatten() {
            let at = format!("secrets.{name}");
            if let VarFile::Text(_) = value {
                c.error(
                    &at,
                    format!("`secrets.{name}` is written in the configuration"),
                    format!("read it from a secret: `{name}: {{secret: env:NAME}}`; text that is not secret goes in the template itself"),
                );
                continue;
            }
            secrets.push((name.clone(), c.var(&at, value)));
        }
        let headers = c.headers("headers", file.headers.as_ref());
        let body = match (&file.body, method) {
            (None, Some(Method::Get) | None) => None,
            (None, Some(_)) => {
                c.missing(
                    "body",
                    "the request body as a template, e.g. `body: '{\"text\": {{ title|tojson }}}'`",
                );
                return None;
            }
            (Some(body), _) => Some(body.clone()),
        };
        let settings = Settings {
            url: url?,
            method: method?,
            headers,
            body,
            content_type,
            secrets,
        };
        // Render a sample alert: syntax errors and unknown names are found now, not at 3 a.m.
        let env = environment();
        let samples: BTreeMap<String, String> = settings
            .secrets
            .iter()
            .map(|(name, _)| (name.clone(), format!("sample-{name}")))
            .collect();
        let sample_alert = sample_notification();
        let sample = context(&sample_alert, &samples);
        let known = known_names(&env, &sample_alert);
        for (name, template) in &settings.headers {
            let problem = unknown_name(&env, template, &known).or_else(|| {
                env.render_str(template, sample.clone())
                    .err()
                    .map(|e| describe(&e))
            });
            if let Some(problem) = problem {
                c.checker.error_hint(
                    &format!("{}.headers.{name}", c.path),
                    format!("header `{name}` is not a working template: {problem}"),
                    TEMPLATE_HINT,
                );
            }
        }
        if let Some(body) = &settings.body {
            if let Some(problem) = unknown_name(&env, body, &known) {
                c.error(
                    "body",
                    format!("`body` is not a working template: {problem}"),
                    TEMPLATE_HINT,
                );
                return Some(settings);
            }
            match env.render_str(body, sample) {
                Err(e) => c.error(
                    "body",
                    format!("`body` is not a working template: {}", describe(&e)),
                    TEMPLATE_HINT,
                ),
                Ok(rendered) if settings.content_type.contains("json") => {
                    if let Err(e) = serde_json::from_str::<serde_json::Value>(&rendered) {
                        c.error(
                            "body",
                            format!("the body rendered for a sample alert is not JSON ({e}): {}", super::send::clip(&rendered, 200)),
                            "put texts in with `|tojson`, which quotes and escapes them: `{\"text\": {{ summary|tojson }}}`; or set `content_type` for a body that is not JSON",
                        );
                    }
                }
                Ok(_) => {}
            }
        }
        Some(settings)
    }

    fn build(&self, http: &reqwest::Client) -> Result<TemplateWebhook, String> {
        let url = super::read_secret_url(&self.url, "template URL")?;
        let secret_url = matches!(self.url, SecretValue::Secret(_)).then(|| url.to_string());
        let mut secrets = BTreeMap::new();
        for (name, value) in &self.secrets {
            secrets.insert(name.clone(), read_secret(value)?);
        }
        Ok(TemplateWebhook {
            url,
            secret_url,
            settings: self.clone(),
            secrets,
            env: environment(),
            http: http.clone(),
        })
    }
}

/// The names a template may use: the notification's fields, `title`, `text`, `secrets`, and
/// the environment's globals (`range`, `namespace`, ...).
fn known_names(env: &Environment, sample: &Notification) -> Vec<String> {
    let fields = serde_json::to_value(sample).expect("a notification serializes");
    let mut names: Vec<String> = fields
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    names.extend(["title", "text", "secrets"].map(String::from));
    names.extend(env.globals().map(|(name, _)| name.to_string()));
    names
}

/// The first name `template` uses that a notification does not have, said with the closest
/// one; a filter on an unknown name (`{{ sumary|tojson }}`) would otherwise render `null`.
fn unknown_name(env: &Environment, template: &str, known: &[String]) -> Option<String> {
    let compiled = env.template_from_str(template).ok()?;
    let mut used: Vec<String> = compiled.undeclared_variables(false).into_iter().collect();
    used.sort();
    let unknown = used.into_iter().find(|name| !known.contains(name))?;
    let close = crate::yaml::diagnostic::did_you_mean(&unknown, known.iter().map(String::as_str));
    Some(match close {
        Some(close) => {
            format!("`{unknown}` is not a field of a notification; did you mean `{close}`?")
        }
        None => format!("`{unknown}` is not a field of a notification"),
    })
}

const TEMPLATE_HINT: &str = "templates are Jinja2: `{{ summary }}`, `{{ reason|tojson }}`, `{% if step %}...{% endif %}`; the names are the webhook JSON's fields, `title`, `text` and `secrets.NAME` (see the README's template sink)";

/// A firing alert with every field set, to render templates against at load.
fn sample_notification() -> Notification {
    let mut n = Notification::test(
        Some("sample-location".into()),
        Some("http://127.0.0.1:9464".into()),
    );
    n.event = Event::Firing;
    n.status = "firing".into();
    n.alert = "JourneyStepFailed".into();
    n.severity = "critical".into();
    n.journey = Some("sample-journey".into());
    n.step = Some("checkout".into());
    n.probe = Some("sample-probe".into());
    n.summary = "sample summary".into();
    n.reason = Some("sample reason".into());
    n.reason_class = Some("timeout".into());
    n.run_id = Some("sample-run".into());
    n.resolved_at = Some(n.sent_at.clone());
    n.screenshot_url = Some("http://127.0.0.1:9464/artifacts/sample.png".into());
    n
}

#[derive(Debug)]
pub struct TemplateWebhook {
    url: url::Url,
    /// The URL's text when it came from a secret, to redact.
    secret_url: Option<String>,
    settings: Settings,
    secrets: BTreeMap<String, String>,
    env: Environment<'static>,
    http: reqwest::Client,
}

/// A request's rendered parts.
#[derive(Debug, PartialEq)]
pub struct Rendered {
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

impl TemplateWebhook {
    /// The request for `n`: headers and body rendered. A template that fails now (it rendered
    /// the sample) is a permanent error: sending again renders the same.
    pub fn render(&self, n: &Notification) -> Result<Rendered, SendError> {
        let context = context(n, &self.secrets);
        let mut headers = Vec::new();
        for (name, template) in &self.settings.headers {
            let value = self
                .env
                .render_str(template, context.clone())
                .map_err(|e| SendError::permanent(format!("header `{name}`: {}", describe(&e))))?;
            headers.push((name.clone(), value));
        }
        let body = match &self.settings.body {
            Some(template) => Some(
                self.env
                    .render_str(template, context)
                    .map_err(|e| SendError::permanent(format!("body: {}", describe(&e))))?,
            ),
            None => None,
        };
        Ok(Rendered { headers, body })
    }
}

impl Deliver for TemplateWebhook {
    async fn send(&self, notification: &Notification) -> Result<(), SendError> {
        let Rendered { headers, body } = self.render(notification)?;
        let mut request = self
            .http
            .request(self.settings.method.reqwest(), self.url.clone());
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, &self.settings.content_type)
                .body(body);
        }
        for (name, value) in &headers {
            let value = http::HeaderValue::from_str(value).map_err(|_| {
                SendError::permanent(format!(
                    "header `{name}` rendered to a value HTTP does not allow (a line break?)"
                ))
            })?;
            request = request.header(name, value);
        }
        accepted(request.send().await).await
    }

    fn redact(&self, redactor: &mut Redactor) {
        self.secrets.values().for_each(|s| redactor.add(s));
        self.secret_url.iter().for_each(|u| redactor.add(u));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::notification::tests::sample;

    fn sender(body: &str, headers: &[(&str, &str)]) -> TemplateWebhook {
        Settings {
            url: SecretValue::Text("http://127.0.0.1:1/send".into()),
            method: Method::Post,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: Some(body.into()),
            content_type: "application/json".into(),
            secrets: vec![("token".into(), SecretValue::Text("t0ken".into()))],
        }
        .build(&reqwest::Client::new())
        .unwrap()
    }

    /// A body in the shape of a typical SMS gateway's JSON API.
    #[test]
    fn renders_fields_filters_and_secrets() {
        let s = sender(
            r#"{"to": "+4915112345678", "text": {{ (title ~ ": " ~ reason)|tojson }}, "steps": {{ steps|length }}}"#,
            &[("Authorization", "Bearer {{ secrets.token }}")],
        );
        let mut n = sample(Event::Firing);
        n.reason = Some("expected \"Thanks\"".into());
        let Rendered { headers, body } = s.render(&n).unwrap();
        assert_eq!(
            headers,
            vec![("Authorization".to_string(), "Bearer t0ken".to_string())]
        );
        let body: serde_json::Value = serde_json::from_str(&body.unwrap()).unwrap();
        assert_eq!(
            body["text"],
            "[FIRING] JourneyStepFailed critical: demo-shop / checkout: expected \"Thanks\""
        );
        assert_eq!(body["steps"], 2);
        let mut redactor = Redactor::default();
        s.redact(&mut redactor);
        assert_eq!(
            redactor.redact("Bearer t0ken"),
            format!("Bearer {}", crate::secret::redact::REDACTED)
        );
    }

    #[test]
    fn a_missing_field_is_an_error_not_an_empty_text() {
        let s = sender("{{ probe|tojson }} {{ nonsense }}", &[]);
        let e = s.render(&sample(Event::Firing)).unwrap_err();
        assert!(e.permanent);
        assert!(e.message.contains("undefined"), "{}", e.message);
    }

    #[test]
    fn an_endless_template_runs_out_of_fuel() {
        let s = sender("{% for i in range(100000000) %}x{% endfor %}", &[]);
        assert!(s.render(&sample(Event::Firing)).is_err());
    }
}
