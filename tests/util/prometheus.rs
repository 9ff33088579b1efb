//! A real Prometheus (Debian `prometheus`) on 127.0.0.1 with a temp data dir, and its HTTP API
//! as the tests read it: instant and range queries, label values, alerts.

use super::monitor::{free_port, write, Monitor};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One sample or series of a query's answer: its labels, and its value (the last one of a
/// range query's series).
pub type Sample = (serde_json::Value, f64);

pub struct Prometheus {
    child: Child,
    pub url: String,
    data: tempfile::TempDir,
}

impl Prometheus {
    /// Scraping `target` every second.
    pub async fn start(target: &str) -> Prometheus {
        Prometheus::start_with_config(&format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\nscrape_configs:\n  - job_name: shopwatch\n    static_configs: [{{targets: ['{target}']}}]\n"
        ))
        .await
    }

    /// With `config` as its `prometheus.yml`.
    pub async fn start_with_config(config: &str) -> Prometheus {
        Prometheus::start_with_files(config, &[]).await
    }

    /// With `config` as its `prometheus.yml` and `files` (name, text) beside it: rule files.
    pub async fn start_with_files(config: &str, files: &[(&str, &str)]) -> Prometheus {
        let binary = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"]
            .into_iter()
            .find(|p| Path::new(p).is_file())
            .expect("Prometheus is not installed: run `bash scripts/test` (it installs the Debian package `prometheus`)");
        let data = tempfile::tempdir().expect("temp dir");
        for (name, text) in files {
            write(data.path(), name, text);
        }
        let config = write(data.path(), "prometheus.yml", config);
        let port = free_port();
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                data.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(data.path().join("prometheus.log")).expect("log"))
            .spawn()
            .expect("start prometheus");
        let prometheus = Prometheus {
            child,
            url: format!("http://127.0.0.1:{port}"),
            data,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(response) = reqwest::get(format!("{}/-/ready", prometheus.url)).await {
                if response.status().is_success() {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "Prometheus not ready in 30 s:\n{}",
                prometheus.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        prometheus
    }

    /// What Prometheus logged (rule evaluation and scrape errors show here).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data.path().join("prometheus.log")).unwrap_or_default()
    }

    /// GET `path` with `params`; the `data` of a `success` answer, else the error it gave.
    pub async fn api(
        &self,
        path: &str,
        params: &[(&str, &str)],
    ) -> Result<serde_json::Value, String> {
        let mut url = url::Url::parse(&format!("{}{path}", self.url)).expect("URL");
        url.query_pairs_mut().extend_pairs(params);
        let response: serde_json::Value = reqwest::get(url)
            .await
            .expect("ask Prometheus")
            .json()
            .await
            .expect("JSON");
        if response["status"] == "success" {
            Ok(response["data"].clone())
        } else {
            Err(format!("{}: {}", response["errorType"], response["error"]))
        }
    }

    /// The instant vector of `query`, as (labels, value) pairs.
    pub async fn query(&self, query: &str) -> Vec<Sample> {
        let data = self
            .api("/api/v1/query", &[("query", query)])
            .await
            .unwrap_or_else(|e| panic!("{query}: {e}"));
        data["result"]
            .as_array()
            .expect("vector")
            .iter()
            .map(|sample| (sample["metric"].clone(), value(&sample["value"])))
            .collect()
    }

    /// The series of `query` from `start` to `end` (Unix seconds) every `step` seconds, as
    /// (labels, values) pairs; NaN points included as Prometheus sends them.
    pub async fn query_range(
        &self,
        query: &str,
        start: f64,
        end: f64,
        step: f64,
    ) -> Result<Vec<(serde_json::Value, Vec<f64>)>, String> {
        let (start, end, step) = (start.to_string(), end.to_string(), step.to_string());
        let data = self
            .api(
                "/api/v1/query_range",
                &[
                    ("query", query),
                    ("start", &start),
                    ("end", &end),
                    ("step", &step),
                ],
            )
            .await?;
        Ok(data["result"]
            .as_array()
            .expect("matrix")
            .iter()
            .map(|series| {
                let values = series["values"]
                    .as_array()
                    .map(|points| points.iter().map(value).collect())
                    .unwrap_or_default();
                (series["metric"].clone(), values)
            })
            .collect())
    }

    /// The values of `label` on the series `selector` matches (what Grafana's
    /// `label_values(selector, label)` asks).
    pub async fn label_values(&self, label: &str, selector: &str) -> Result<Vec<String>, String> {
        let data = self
            .api(
                &format!("/api/v1/label/{label}/values"),
                &[("match[]", selector)],
            )
            .await?;
        Ok(data
            .as_array()
            .expect("list")
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect())
    }

    /// The alerts its rules have pending or firing now (`/api/v1/alerts`).
    pub async fn alerts(&self) -> Vec<serde_json::Value> {
        let data = self.api("/api/v1/alerts", &[]).await.expect("alerts");
        data["alerts"].as_array().cloned().unwrap_or_default()
    }

    /// Polls `query` until `done` holds for its result; the result.
    pub async fn wait_for(
        &self,
        query: &str,
        within: Duration,
        monitor: &Monitor,
        done: impl Fn(&[Sample]) -> bool,
    ) -> Vec<Sample> {
        let deadline = Instant::now() + within;
        loop {
            let result = self.query(query).await;
            if done(&result) {
                return result;
            }
            assert!(
                Instant::now() < deadline,
                "Prometheus: `{query}` never got there in {within:?}; last: {result:?}\nshopwatch log:\n{}",
                monitor.log()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// `[time, "value"]` as a number (NaN for what does not parse).
fn value(point: &serde_json::Value) -> f64 {
    point[1]
        .as_str()
        .unwrap_or("NaN")
        .parse()
        .unwrap_or(f64::NAN)
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
