//! Memory of the monitor running many HTTP probes: the release `shopwatch run` with 1,000 http
//! probes every 10 s against the demo shop on 127.0.0.1, its RSS sampled from /proc for some
//! minutes while /metrics is scraped as Prometheus would.
//!
//! ```text
//! cargo bench --bench probe_rss
//! PROBE_RSS_SECS=300 PROBE_RSS_SCHEME=https cargo bench --bench probe_rss
//! PROBE_RSS_VARIANTS='default;MALLOC_ARENA_MAX=2' PROBE_RSS_ROUNDS=3 cargo bench --bench probe_rss
//! ```
//!
//! Settings (environment): `PROBE_RSS_PROBES` (1000), `PROBE_RSS_EVERY` (`10s`),
//! `PROBE_RSS_SECS` (measured seconds per run, 180), `PROBE_RSS_SCRAPE_SECS` (seconds between
//! scrapes of /metrics, 15), `PROBE_RSS_SCHEME` (`http`, `https`, or `mixed`: every other probe
//! https), `PROBE_RSS_HOST` (`127.0.0.1`, or `localhost` to resolve a name on every run: a blocking
//! `getaddrinfo` on tokio's blocking pool),
//! `PROBE_RSS_ROUNDS` (1), `PROBE_RSS_VARIANTS` (`;`-separated; each `default` or
//! space-separated `NAME=VALUE` pairs set in the monitor's environment, e.g.
//! `MALLOC_ARENA_MAX=2`), `PROBE_RSS_BIN` (the binary to measure; default this build's
//! `shopwatch`).
//!
//! Method: the demo shop runs in this process (plain HTTP, and HTTPS with a CA and a
//! certificate for `localhost` and 127.0.0.1 made here; the https probes trust that CA with `ca_file`). The monitor
//! is started with only probes configured; from then on `VmRSS`, `VmHWM` and `Threads` of its
//! process are read from `/proc/PID/status` every second. The steady state is the median (and
//! range) of the samples of the second half of the run, after the first probe runs and scrapes
//! have happened many times over. At the end /metrics must show every probe with
//! `probe_success 1`, or the bench fails (exit 1). Variants alternate round by round, so that
//! they see the same load of the shared machine.

use anyhow::{anyhow, bail, Context, Result};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists benches; nothing to list here.
    }
    if let Err(e) = bench() {
        eprintln!("probe_rss: FAILED: {e:#}");
        std::process::exit(1);
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Scheme {
    Http,
    Https,
    Mixed,
}

struct Settings {
    probes: usize,
    every: String,
    secs: u64,
    scrape_secs: u64,
    scheme: Scheme,
    host: String,
    rounds: usize,
    variants: Vec<Vec<(String, String)>>,
    binary: PathBuf,
}

impl Settings {
    fn from_env() -> Result<Settings> {
        fn var<T: std::str::FromStr>(name: &str, default: T) -> Result<T> {
            match std::env::var(name) {
                Ok(text) => text
                    .trim()
                    .parse()
                    .map_err(|_| anyhow!("{name}=`{text}` is not valid")),
                Err(_) => Ok(default),
            }
        }
        let scheme = match std::env::var("PROBE_RSS_SCHEME").as_deref() {
            Err(_) | Ok("http") => Scheme::Http,
            Ok("https") => Scheme::Https,
            Ok("mixed") => Scheme::Mixed,
            Ok(other) => bail!("PROBE_RSS_SCHEME=`{other}`: expected http, https or mixed"),
        };
        let variants = std::env::var("PROBE_RSS_VARIANTS")
            .unwrap_or_else(|_| "default".to_string())
            .split(';')
            .map(|variant| {
                variant
                    .split_whitespace()
                    .filter(|word| *word != "default")
                    .map(|pair| {
                        pair.split_once('=')
                            .map(|(k, v)| (k.to_string(), v.to_string()))
                            .ok_or_else(|| {
                                anyhow!("PROBE_RSS_VARIANTS: `{pair}` is not NAME=VALUE")
                            })
                    })
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Settings {
            probes: var("PROBE_RSS_PROBES", 1000)?,
            every: std::env::var("PROBE_RSS_EVERY").unwrap_or_else(|_| "10s".to_string()),
            secs: var("PROBE_RSS_SECS", 180)?,
            scrape_secs: var("PROBE_RSS_SCRAPE_SECS", 15)?,
            scheme,
            host: std::env::var("PROBE_RSS_HOST").unwrap_or_else(|_| "127.0.0.1".to_string()),
            rounds: var("PROBE_RSS_ROUNDS", 1)?,
            variants,
            binary: std::env::var_os("PROBE_RSS_BIN")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_shopwatch"))),
        })
    }
}

fn variant_name(variant: &[(String, String)]) -> String {
    if variant.is_empty() {
        return "default".to_string();
    }
    variant
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// One process status sample.
#[derive(Debug, Clone, Copy)]
struct Status {
    rss: u64,
    hwm: u64,
    anon: u64,
    threads: u64,
}

/// What one run measured.
struct RunResult {
    variant: String,
    /// Steady state: the samples of the second half.
    steady: Vec<Status>,
    peak: u64,
    max_threads: u64,
    ok_runs: f64,
    metrics_bytes: usize,
}

fn bench() -> Result<()> {
    let s = Settings::from_env()?;
    let dir = tempfile::tempdir()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let (shop, tls_addr) = rt.block_on(start_shop(dir.path()))?;
    let ca_file = dir.path().join("ca.pem");
    println!(
        "probe_rss: {} {:?} probes every {} against the demo shop (http {}, https {}), {} s per run, \
         /metrics scraped every {} s, {} round(s) of {} variant(s); binary {}",
        s.probes,
        s.scheme,
        s.every,
        shop.addr,
        tls_addr,
        s.secs,
        s.scrape_secs,
        s.rounds,
        s.variants.len(),
        s.binary.display()
    );
    let mut results = Vec::new();
    for round in 0..s.rounds {
        for variant in &s.variants {
            let result = run_once(
                &s,
                variant,
                dir.path(),
                shop.addr.port(),
                tls_addr.port(),
                &ca_file,
            )
            .with_context(|| format!("round {}, variant {}", round + 1, variant_name(variant)))?;
            report(&result);
            results.push(result);
        }
    }
    println!("\nsummary (steady state = second half of each run; MB = 2^20 bytes):");
    println!(
        "{:<40} {:>6} {:>22} {:>10} {:>8}",
        "variant", "runs", "RSS median [min-max]", "peak", "threads"
    );
    for variant in &s.variants {
        let name = variant_name(variant);
        let mine: Vec<&RunResult> = results.iter().filter(|r| r.variant == name).collect();
        let medians: Vec<f64> = mine.iter().map(|r| median_rss(&r.steady)).collect();
        let peaks: Vec<f64> = mine.iter().map(|r| mb(r.peak)).collect();
        println!(
            "{:<40} {:>6} {:>9.1} [{:.1}-{:.1}] {:>10.1} {:>8}",
            name,
            mine.len(),
            median(&medians),
            medians.iter().cloned().fold(f64::INFINITY, f64::min),
            medians.iter().cloned().fold(0.0, f64::max),
            median(&peaks),
            mine.iter().map(|r| r.max_threads).max().unwrap_or(0)
        );
    }
    drop(shop);
    Ok(())
}

fn report(r: &RunResult) {
    let rss: Vec<f64> = r.steady.iter().map(|s| mb(s.rss)).collect();
    let anon: Vec<f64> = r.steady.iter().map(|s| mb(s.anon)).collect();
    println!(
        "  {}: steady RSS median {:.1} MB [{:.1}-{:.1}], anon {:.1} MB, peak (VmHWM) {:.1} MB, \
         threads up to {}, {} ok probe runs, /metrics {} bytes",
        r.variant,
        median(&rss),
        rss.iter().cloned().fold(f64::INFINITY, f64::min),
        rss.iter().cloned().fold(0.0, f64::max),
        median(&anon),
        mb(r.peak),
        r.max_threads,
        r.ok_runs,
        r.metrics_bytes
    );
}

async fn start_shop(dir: &Path) -> Result<(demo_shop::RunningShop, std::net::SocketAddr)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let mut shop = demo_shop::start(listener, demo_shop::ShopConfig::default()).await?;
    let (chain, key, ca) = certificates()?;
    std::fs::write(dir.join("ca.pem"), ca)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let tls = shop
        .start_tls(listener, chain.as_bytes(), key.as_bytes())
        .await?;
    Ok((shop, tls))
}

/// A server certificate for `localhost` and 127.0.0.1 (PEM), its key, and the CA that signed it.
fn certificates() -> Result<(String, String, String)> {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
        KeyUsagePurpose,
    };
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(DnType::CommonName, "shopwatch bench CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate()?)?;
    let mut params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])?;
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let key = KeyPair::generate()?;
    let leaf = params.signed_by(&key, &ca)?;
    Ok((leaf.pem(), key.serialize_pem(), ca.pem()))
}

fn config(s: &Settings, listen: u16, http: u16, https: u16, ca_file: &Path) -> String {
    let mut text = format!("listen: 127.0.0.1:{listen}\nlocation: bench\nprobes:\n");
    for i in 0..s.probes {
        let tls = match s.scheme {
            Scheme::Http => false,
            Scheme::Https => true,
            Scheme::Mixed => i % 2 == 1,
        };
        let host = &s.host;
        if tls {
            text.push_str(&format!(
                "  - http: {{name: probe-{i:04}, url: 'https://{host}:{https}/', every: {}, ca_file: '{}'}}\n",
                s.every,
                ca_file.display()
            ));
        } else {
            text.push_str(&format!(
                "  - http: {{name: probe-{i:04}, url: 'http://{host}:{http}/', every: {}}}\n",
                s.every
            ));
        }
    }
    text
}

fn run_once(
    s: &Settings,
    variant: &[(String, String)],
    dir: &Path,
    http: u16,
    https: u16,
    ca_file: &Path,
) -> Result<RunResult> {
    let listen = free_port()?;
    let config_file = dir.join("shopwatch.yaml");
    std::fs::write(&config_file, config(s, listen, http, https, ca_file))?;
    let log = dir.join("shopwatch.log");
    let mut command = Command::new(&s.binary);
    command
        .args(["run", "--config"])
        .arg(&config_file)
        .current_dir(dir)
        .envs(variant.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(&log)?));
    let child = Guard(command.spawn().context("cannot start shopwatch")?);
    let pid = child.0.id();
    let started = Instant::now();
    let mut samples: Vec<(f64, Status)> = Vec::new();
    let mut next_scrape = Duration::from_secs(s.scrape_secs);
    let mut metrics_bytes = 0;
    while started.elapsed() < Duration::from_secs(s.secs) {
        std::thread::sleep(Duration::from_secs(1));
        let status = status(pid).with_context(|| {
            format!(
                "shopwatch exited; its log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        })?;
        let t = started.elapsed();
        samples.push((t.as_secs_f64(), status));
        if t.as_secs().is_multiple_of(30) {
            println!(
                "    {:>4} s: RSS {:.1} MB, anon {:.1} MB, peak {:.1} MB, {} threads",
                t.as_secs(),
                mb(status.rss),
                mb(status.anon),
                mb(status.hwm),
                status.threads
            );
        }
        if t >= next_scrape {
            metrics_bytes = scrape(listen).map(|m| m.len()).unwrap_or(0);
            next_scrape += Duration::from_secs(s.scrape_secs);
        }
    }
    let metrics = scrape(listen)?;
    let successes = metrics
        .lines()
        .filter(|l| l.starts_with("probe_success{") && l.ends_with(" 1"))
        .count();
    if successes != s.probes {
        bail!(
            "{successes} of {} probes have probe_success 1; log:\n{}",
            s.probes,
            tail(&std::fs::read_to_string(&log).unwrap_or_default(), 20)
        );
    }
    let ok_runs: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("shopwatch_probe_runs_total{") && l.contains("outcome=\"ok\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    let last = samples.last().map(|(_, s)| *s).unwrap();
    let half = s.secs as f64 / 2.0;
    Ok(RunResult {
        variant: variant_name(variant),
        steady: samples
            .iter()
            .filter(|(t, _)| *t >= half)
            .map(|(_, s)| *s)
            .collect(),
        peak: last.hwm,
        max_threads: samples.iter().map(|(_, s)| s.threads).max().unwrap_or(0),
        ok_runs,
        metrics_bytes: metrics_bytes.max(metrics.len()),
    })
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The monitor; SIGTERM and reaped when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child, by its PID.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn status(pid: u32) -> Result<Status> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> Result<u64> {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| anyhow!("no {name} in /proc/{pid}/status (exited?)"))
    };
    Ok(Status {
        rss: field("VmRSS:")? * 1024,
        hwm: field("VmHWM:")? * 1024,
        anon: field("RssAnon:")? * 1024,
        threads: field("Threads:")?,
    })
}

/// GET /metrics over a plain socket; the body.
fn scrape(port: u16) -> Result<String> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response);
    if !text.starts_with("HTTP/1.1 200") {
        bail!("scrape: {}", &text[..text.len().min(200)]);
    }
    Ok(text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or("")
        .to_string())
}

fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn median_rss(samples: &[Status]) -> f64 {
    let v: Vec<f64> = samples.iter().map(|s| mb(s.rss)).collect();
    median(&v)
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if !n.is_multiple_of(2) {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}
