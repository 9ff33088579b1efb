//! HTTP probe throughput per CPU second against a local target, measured in the same run as
//! Prometheus blackbox_exporter probing the same target.
//!
//! ```text
//! cargo bench --bench probe_throughput
//! PROBE_BENCH_SECS=10 PROBE_BENCH_CONCURRENCY=32 cargo bench --bench probe_throughput
//! PROBE_BENCH_VARIANTS=library,blackbox cargo bench --bench probe_throughput
//! ```
//!
//! Settings (environment): `PROBE_BENCH_SECS` (measured seconds per run, default 6),
//! `PROBE_BENCH_WARMUP_SECS` (1), `PROBE_BENCH_CONCURRENCY` (probes in flight, 16),
//! `PROBE_BENCH_WORKERS` (tokio worker threads of the shopwatch probers, 2),
//! `PROBE_BENCH_ROUNDS` (3), `PROBE_BENCH_VARIANTS` (comma list of `library`,
//! `library+render`, `exporter`, `blackbox`, `library-tcp`, `blackbox-tcp`, `library-dns`,
//! `blackbox-dns`; default all), `PROBE_BENCH_BLACKBOX` (the
//! exporter binary, default `/usr/bin/prometheus-blackbox-exporter`). The defaults take about
//! 1.5 minutes.
//!
//! The tcp and dns variants put the tcp probe (connect, close) and the dns probe (an A query
//! over UDP) next to the http one, against the same target and against the **dns** role (this
//! binary re-executed with `SHOPWATCH_BENCH_ROLE=dns`: one A record for any query), with
//! blackbox_exporter's `tcp_connect` and `dns` modules beside them.
//!
//! Processes (all on 127.0.0.1, all children die with the bench):
//! - the **target**: this binary re-executed with `SHOPWATCH_BENCH_ROLE=target`, a one-thread
//!   tokio server that answers every request with a fixed 3-byte `200 OK`. Its CPU is outside
//!   every prober's measurement, and reported per probe as a check that both probers ask the
//!   same of it.
//! - **blackbox_exporter** (`/usr/bin/prometheus-blackbox-exporter`, module `http_2xx`), driven
//!   with `GET /probe?module=http_2xx&target=...` by C concurrent keep-alive requests from this
//!   process; its CPU is the utime+stime of its process (`/proc/PID/stat`).
//! - the **shopwatch exporter**: this binary re-executed with `SHOPWATCH_BENCH_ROLE=exporter`,
//!   serving the same `GET /probe?target=...` as blackbox does: an axum server that runs a
//!   shopwatch http probe per request and renders the result as Prometheus text with the same 14
//!   metric families (a fresh `prometheus::Registry` per probe, as blackbox does). Driven and
//!   measured exactly as blackbox: the like-for-like comparison.
//!
//! And in this process, on a tokio runtime of `PROBE_BENCH_WORKERS` workers, C tasks calling
//! `ProbeConfig::run()` back to back: **shopwatch (library)**, the cost of the probe alone as
//! the shopwatch daemon pays it, measured with `getrusage(RUSAGE_SELF)`; and
//! **shopwatch (library + render)**, the same plus rendering each result as Prometheus text.
//!
//! Each variant runs `PROBE_BENCH_ROUNDS` times, the variants alternating; each run warms up for
//! `PROBE_BENCH_WARMUP_SECS`, then counts successful probes and the prober's CPU time over
//! `PROBE_BENCH_SECS` of wall time. The table shows the medians.
//!
//! The bench fails (exit 1) when the blackbox_exporter binary is missing or any prober does not
//! succeed against the target.

use anyhow::{anyhow, bail, Context, Result};
use shopwatch::probe::{parse_probes, Phase, ProbeConfig, ProbeResult};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Which role this process plays: unset for the bench itself.
const ROLE_ENV: &str = "SHOPWATCH_BENCH_ROLE";
const DEFAULT_BLACKBOX: &str = "/usr/bin/prometheus-blackbox-exporter";
/// The target's only answer.
const TARGET_RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 3\r\n\r\nok\n";

fn main() {
    let result = match std::env::var(ROLE_ENV).as_deref() {
        Ok("target") => run_target(),
        Ok("exporter") => run_exporter(),
        Ok("dns") => run_dns(),
        Ok(other) => Err(anyhow!("unknown {ROLE_ENV} `{other}`")),
        Err(_) => bench(),
    };
    if let Err(e) = result {
        eprintln!("probe_throughput: FAILED: {e:#}");
        std::process::exit(1);
    }
}

/// Settings from the environment.
#[derive(Debug, Clone)]
struct Settings {
    secs: f64,
    warmup_secs: f64,
    concurrency: usize,
    rounds: usize,
    workers: usize,
    blackbox: PathBuf,
    variants: Vec<Variant>,
}

impl Settings {
    fn from_env() -> Result<Settings> {
        fn var<T: std::str::FromStr>(name: &str, default: T) -> Result<T> {
            match std::env::var(name) {
                Ok(text) => text
                    .trim()
                    .parse()
                    .map_err(|_| anyhow!("{name}=`{text}` is not a valid number")),
                Err(_) => Ok(default),
            }
        }
        let settings = Settings {
            secs: var("PROBE_BENCH_SECS", 6.0)?,
            warmup_secs: var("PROBE_BENCH_WARMUP_SECS", 1.0)?,
            concurrency: var("PROBE_BENCH_CONCURRENCY", 16)?,
            rounds: var("PROBE_BENCH_ROUNDS", 3)?,
            workers: var("PROBE_BENCH_WORKERS", 2)?,
            blackbox: std::env::var_os("PROBE_BENCH_BLACKBOX")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_BLACKBOX)),
            variants: match std::env::var("PROBE_BENCH_VARIANTS") {
                Ok(list) => list
                    .split(',')
                    .map(|name| {
                        Variant::ALL
                            .into_iter()
                            .find(|v| variant_key(*v) == name.trim())
                            .ok_or_else(|| {
                                anyhow!(
                                    "PROBE_BENCH_VARIANTS: unknown variant `{name}`; known: {}",
                                    Variant::ALL.map(variant_key).join(", ")
                                )
                            })
                    })
                    .collect::<Result<_>>()?,
                Err(_) => Variant::ALL.to_vec(),
            },
        };
        if settings.secs <= 0.0 || settings.warmup_secs < 0.0 {
            bail!("PROBE_BENCH_SECS must be > 0 and PROBE_BENCH_WARMUP_SECS >= 0");
        }
        if settings.concurrency == 0
            || settings.rounds == 0
            || settings.workers == 0
            || settings.variants.is_empty()
        {
            bail!(
                "PROBE_BENCH_CONCURRENCY, PROBE_BENCH_ROUNDS and PROBE_BENCH_WORKERS must be > 0"
            );
        }
        Ok(settings)
    }
}

// ---------------------------------------------------------------------------------------------
// The bench

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    Library,
    LibraryRender,
    Exporter,
    Blackbox,
    /// The tcp probe (connect and close) of the same target.
    LibraryTcp,
    BlackboxTcp,
    /// The dns probe (an A query over UDP) of the DNS role.
    LibraryDns,
    BlackboxDns,
}

impl Variant {
    const ALL: [Variant; 8] = [
        Variant::Library,
        Variant::LibraryRender,
        Variant::Exporter,
        Variant::Blackbox,
        Variant::LibraryTcp,
        Variant::BlackboxTcp,
        Variant::LibraryDns,
        Variant::BlackboxDns,
    ];

    fn label(self, blackbox_version: &str) -> String {
        match self {
            Variant::Library => "shopwatch (library, probe only)".to_string(),
            Variant::LibraryRender => "shopwatch (library + render text)".to_string(),
            Variant::Exporter => "shopwatch (exporter, GET /probe)".to_string(),
            Variant::Blackbox => format!("blackbox_exporter {blackbox_version} (GET /probe)"),
            Variant::LibraryTcp => "shopwatch tcp (library, probe only)".to_string(),
            Variant::BlackboxTcp => {
                format!("blackbox_exporter {blackbox_version} tcp_connect (GET /probe)")
            }
            Variant::LibraryDns => "shopwatch dns (library, probe only)".to_string(),
            Variant::BlackboxDns => {
                format!("blackbox_exporter {blackbox_version} dns (GET /probe)")
            }
        }
    }
}

/// One measured run.
#[derive(Debug, Clone, Copy)]
struct Sample {
    ok: u64,
    failed: u64,
    wall: f64,
    /// CPU seconds (user+sys) of the prober.
    cpu: f64,
    /// CPU seconds of the target during the run.
    target_cpu: f64,
    /// CPU seconds of the bench process while it drives an exporter (0 for library variants,
    /// where it is the prober).
    driver_cpu: f64,
}

impl Sample {
    fn per_cpu(&self) -> f64 {
        self.ok as f64 / self.cpu.max(1e-9)
    }
    fn per_wall(&self) -> f64 {
        self.ok as f64 / self.wall
    }
    fn cpu_us(&self) -> f64 {
        self.cpu * 1e6 / (self.ok.max(1) as f64)
    }
    fn target_us(&self) -> f64 {
        self.target_cpu * 1e6 / (self.ok.max(1) as f64)
    }
    fn driver_us(&self) -> f64 {
        self.driver_cpu * 1e6 / (self.ok.max(1) as f64)
    }
}

fn bench() -> Result<()> {
    let s = Settings::from_env()?;
    if !s.blackbox.is_file() {
        bail!(
            "blackbox_exporter not found at {}: install it with `apt-get install -y prometheus-blackbox-exporter` (Debian) or set PROBE_BENCH_BLACKBOX to its path",
            s.blackbox.display()
        );
    }
    let blackbox_version = blackbox_version(&s.blackbox)?;
    let exe = std::env::current_exe().context("cannot find this bench's own binary")?;
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;

    let (target, target_port) = start_role(&exe, "target", &[], dir.path())?;
    let target_url = format!("http://127.0.0.1:{target_port}/");
    let target_addr = format!("127.0.0.1:{target_port}");
    let (dns, dns_port) = start_role(&exe, "dns", &[], dir.path())?;
    let dns_addr = format!("127.0.0.1:{dns_port}");

    // blackbox_exporter, on a free port.
    let config = dir.path().join("blackbox.yml");
    std::fs::write(
        &config,
        "modules:\n  http_2xx:\n    prober: http\n    timeout: 5s\n    http:\n      preferred_ip_protocol: ip4\n      valid_status_codes: [200]\n  tcp_connect:\n    prober: tcp\n    timeout: 5s\n    tcp:\n      preferred_ip_protocol: ip4\n  dns_a:\n    prober: dns\n    timeout: 5s\n    dns:\n      preferred_ip_protocol: ip4\n      transport_protocol: udp\n      query_name: shop.example\n      query_type: A\n      valid_rcodes: [NOERROR]\n",
    )?;
    let bb_port = free_port()?;
    let bb_log = dir.path().join("blackbox.log");
    let bb_log_file = std::fs::File::create(&bb_log)?;
    let blackbox = spawn(
        "blackbox_exporter",
        Command::new(&s.blackbox)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{bb_port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::from(bb_log_file.try_clone()?))
            .stderr(Stdio::from(bb_log_file)),
        Some(bb_log),
    )?;
    let bb_url = format!(
        "http://127.0.0.1:{bb_port}/probe?module=http_2xx&target={}",
        encode_query(&target_url)
    );
    let bb_tcp_url = format!(
        "http://127.0.0.1:{bb_port}/probe?module=tcp_connect&target={}",
        encode_query(&target_addr)
    );
    let bb_dns_url = format!(
        "http://127.0.0.1:{bb_port}/probe?module=dns_a&target={}",
        encode_query(&dns_addr)
    );

    let workers = s.workers.to_string();
    let (exporter, exporter_port) = start_role(
        &exe,
        "exporter",
        &[("PROBE_BENCH_WORKERS", workers.as_str())],
        dir.path(),
    )?;
    let exporter_url = format!(
        "http://127.0.0.1:{exporter_port}/probe?target={}",
        encode_query(&target_url)
    );

    let probe = http_probe(&target_url)?;
    let tcp = config_probe(&format!(
        "  - tcp: {{name: bench, target: '{target_addr}', every: 15s, timeout: 5s}}\n"
    ))?;
    let dns_probe = config_probe(&format!(
        "  - dns: {{name: bench, server: '{dns_addr}', query: shop.example, type: A, every: 15s, timeout: 5s}}\n"
    ))?;

    // Everything answers, and succeeds, before anything is measured.
    let check_rt = runtime(1)?;
    let blackbox_text = check_rt.block_on(wait_for_probe(&bb_url, &blackbox))?;
    check_rt.block_on(wait_for_probe(&bb_tcp_url, &blackbox))?;
    check_rt.block_on(wait_for_probe(&bb_dns_url, &blackbox))?;
    let exporter_text = check_rt.block_on(wait_for_probe(&exporter_url, &exporter))?;
    let first = check_rt.block_on(probe.run());
    for (what, probe) in [("http", &probe), ("tcp", &tcp), ("dns", &dns_probe)] {
        let result = check_rt.block_on(probe.run());
        if !result.success() {
            bail!(
                "the shopwatch {what} probe did not succeed: {:?} {}",
                result.outcome,
                result.reason.unwrap_or_default()
            );
        }
    }
    drop(check_rt);

    println!(
        "probe_throughput: target {target_url} (fixed 3-byte 200), {} s per run after {} s warm-up, concurrency {}, {} worker threads, {} rounds; {} cores",
        s.secs,
        s.warmup_secs,
        s.concurrency,
        s.workers,
        s.rounds,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "pids: bench {}, target {}, blackbox_exporter {}, shopwatch exporter {}",
        std::process::id(),
        target.pid(),
        blackbox.pid(),
        exporter.pid()
    );
    println!(
        "/probe response bodies: blackbox_exporter {} bytes, shopwatch exporter {} bytes, library render {} bytes",
        blackbox_text.len(),
        exporter_text.len(),
        render(&first, &target_url).len()
    );

    let mut samples: HashMap<&'static str, Vec<Sample>> = HashMap::new();
    for round in 1..=s.rounds {
        for &variant in &s.variants {
            let sample = match variant {
                Variant::Library => measure_library(&s, &probe, false, target.pid())?,
                Variant::LibraryRender => measure_library(&s, &probe, true, target.pid())?,
                Variant::Exporter => {
                    measure_exporter(&s, &exporter_url, exporter.pid(), target.pid())?
                }
                Variant::Blackbox => measure_exporter(&s, &bb_url, blackbox.pid(), target.pid())?,
                Variant::LibraryTcp => measure_library(&s, &tcp, false, target.pid())?,
                Variant::BlackboxTcp => {
                    measure_exporter(&s, &bb_tcp_url, blackbox.pid(), target.pid())?
                }
                Variant::LibraryDns => measure_library(&s, &dns_probe, false, dns.pid())?,
                Variant::BlackboxDns => {
                    measure_exporter(&s, &bb_dns_url, blackbox.pid(), dns.pid())?
                }
            };
            println!(
                "  round {round} {:<40} {:>8.0} probes/CPU-s {:>8.0}/s wall  {:>6.1} µs CPU/probe  (ok {}, failed {}, target {:.1} µs/probe, driver {:.1} µs/probe)",
                variant.label(&blackbox_version),
                sample.per_cpu(),
                sample.per_wall(),
                sample.cpu_us(),
                sample.ok,
                sample.failed,
                sample.target_us(),
                sample.driver_us()
            );
            if sample.ok == 0 {
                bail!(
                    "{} completed no successful probe",
                    variant.label(&blackbox_version)
                );
            }
            samples
                .entry(variant_key(variant))
                .or_default()
                .push(sample);
        }
    }

    println!();
    println!(
        "| prober | probes / CPU-s (median) | probes / s wall (median) | CPU µs / probe | target CPU µs / probe | runs (probes/CPU-s) |"
    );
    println!("|---|---:|---:|---:|---:|---|");
    let mut medians = HashMap::new();
    for &variant in &s.variants {
        let runs = &samples[variant_key(variant)];
        let per_cpu = median(runs.iter().map(Sample::per_cpu));
        let per_wall = median(runs.iter().map(Sample::per_wall));
        let cpu_us = median(runs.iter().map(Sample::cpu_us));
        let target_us = median(runs.iter().map(Sample::target_us));
        let all = runs
            .iter()
            .map(|r| format!("{:.0}", r.per_cpu()))
            .collect::<Vec<_>>()
            .join(", ");
        println!(
            "| {} | {per_cpu:.0} | {per_wall:.0} | {cpu_us:.1} | {target_us:.1} | {all} |",
            variant.label(&blackbox_version)
        );
        medians.insert(variant_key(variant), (per_cpu, per_wall));
    }
    let Some(&(bb_cpu, bb_wall)) = medians.get(variant_key(Variant::Blackbox)) else {
        return Ok(());
    };
    println!();
    for variant in [Variant::Library, Variant::LibraryRender, Variant::Exporter] {
        let Some(&(cpu, wall)) = medians.get(variant_key(variant)) else {
            continue;
        };
        println!(
            "{}: {cpu:.0} probes/CPU-s ({wall:.0}/s wall); blackbox_exporter {blackbox_version}: {bb_cpu:.0} probes/CPU-s ({bb_wall:.0}/s wall) -> {:.2}x per CPU-s, {}",
            variant.label(&blackbox_version),
            cpu / bb_cpu,
            if cpu >= bb_cpu { "target met" } else { "TARGET MISSED (slower than blackbox_exporter)" }
        );
    }
    drop((exporter, blackbox, target, dns));
    Ok(())
}

fn variant_key(v: Variant) -> &'static str {
    match v {
        Variant::Library => "library",
        Variant::LibraryRender => "library+render",
        Variant::Exporter => "exporter",
        Variant::Blackbox => "blackbox",
        Variant::LibraryTcp => "library-tcp",
        Variant::BlackboxTcp => "blackbox-tcp",
        Variant::LibraryDns => "library-dns",
        Variant::BlackboxDns => "blackbox-dns",
    }
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The shopwatch probe of `url`, as a configuration file would give it.
fn http_probe(url: &str) -> Result<ProbeConfig> {
    config_probe(&format!(
        "  - http:\n      name: bench\n      url: {url}\n      every: 15s\n      timeout: 5s\n      expect_status: 200\n"
    ))
}

/// The probe of one `probes:` item as written.
fn config_probe(item: &str) -> Result<ProbeConfig> {
    let yaml = format!("probes:\n{item}");
    let mut probes = parse_probes(Path::new("bench-probes.yaml"), &yaml)
        .map_err(|e| anyhow!("bench probe does not parse: {e}"))?;
    Ok(probes.remove(0))
}

fn runtime(workers: usize) -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .context("cannot start a tokio runtime")
}

/// Runs `concurrency` copies of `one` back to back for warm-up plus the measured time; counts
/// successes and failures, and calls `cpu` at the start and end of the measured window.
fn measure<F, Fut>(
    s: &Settings,
    rt: &tokio::runtime::Runtime,
    one: F,
    cpu: impl Fn() -> Result<f64>,
    target_pid: u32,
    driver: bool,
) -> Result<Sample>
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..s.concurrency)
        .map(|_| {
            let (stop, ok, failed, one) = (stop.clone(), ok.clone(), failed.clone(), one.clone());
            rt.spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if one().await {
                        ok.fetch_add(1, Ordering::Relaxed);
                    } else {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(s.warmup_secs));
    let (ok0, failed0) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    let (cpu0, target0, self0) = (cpu()?, proc_cpu(target_pid)?, self_cpu());
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(s.secs));
    let (ok1, failed1) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    let (cpu1, target1, self1) = (cpu()?, proc_cpu(target_pid)?, self_cpu());
    let wall = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    rt.block_on(async {
        for task in tasks {
            let _ = task.await;
        }
    });
    Ok(Sample {
        ok: ok1 - ok0,
        failed: failed1 - failed0,
        wall,
        cpu: cpu1 - cpu0,
        target_cpu: target1 - target0,
        driver_cpu: if driver { self1 - self0 } else { 0.0 },
    })
}

fn measure_library(
    s: &Settings,
    probe: &ProbeConfig,
    render_text: bool,
    target_pid: u32,
) -> Result<Sample> {
    let rt = runtime(s.workers)?;
    let probe = Arc::new(probe.clone());
    let url = match &*probe {
        ProbeConfig::Http(h) => h.url.to_string(),
        _ => String::new(),
    };
    let url = Arc::new(url);
    let one = move || {
        let (probe, url) = (probe.clone(), url.clone());
        async move {
            let result = probe.run().await;
            if render_text {
                let text = render(&result, &url);
                std::hint::black_box(text.len());
            }
            result.success()
        }
    };
    let sample = measure(s, &rt, one, || Ok(self_cpu()), target_pid, false);
    rt.shutdown_timeout(Duration::from_secs(5));
    sample
}

fn measure_exporter(s: &Settings, url: &str, exporter_pid: u32, target_pid: u32) -> Result<Sample> {
    let rt = runtime(s.workers)?;
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(s.concurrency)
        .timeout(Duration::from_secs(10))
        .build()?;
    let url = Arc::new(url.to_string());
    let one = move || {
        let (client, url) = (client.clone(), url.clone());
        async move {
            match client.get(url.as_str()).send().await {
                Ok(response) if response.status().is_success() => match response.text().await {
                    Ok(text) => text.contains("\nprobe_success 1\n"),
                    Err(_) => false,
                },
                _ => false,
            }
        }
    };
    let sample = measure(s, &rt, one, || proc_cpu(exporter_pid), target_pid, true);
    rt.shutdown_timeout(Duration::from_secs(5));
    sample
}

/// Polls `url` (an exporter's `/probe`) until it answers with `probe_success 1`; the body.
async fn wait_for_probe(url: &str, child: &ChildGuard) -> Result<String> {
    let client = reqwest::Client::builder().no_proxy().build()?;
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = String::from("no answer");
    while Instant::now() < deadline {
        child.check_alive()?;
        match client.get(url).send().await {
            Ok(response) => {
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                if status.is_success() && text.contains("\nprobe_success 1\n") {
                    return Ok(text);
                }
                last = format!("status {status}:\n{text}");
            }
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!(
        "{} did not answer {url} with probe_success 1 within 20 s; last: {last}{}",
        child.name,
        child.log_tail()
    )
}

fn blackbox_version(binary: &Path) -> Result<String> {
    let output = Command::new(binary)
        .arg("--version")
        .output()
        .with_context(|| format!("cannot run {} --version", binary.display()))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // "blackbox_exporter, version 0.23.0 (branch: ...)"
    Ok(text
        .split_whitespace()
        .skip_while(|w| *w != "version")
        .nth(1)
        .unwrap_or("(unknown version)")
        .to_string())
}

fn encode_query(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

// ---------------------------------------------------------------------------------------------
// CPU time

/// User+system CPU seconds of this process (all threads).
fn self_cpu() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// User+system CPU seconds of process `pid` (all threads), from `/proc/PID/stat`.
fn proc_cpu(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("cannot read /proc/{pid}/stat"))?;
    // After the command name in parentheses: field 3 (state) onwards; utime and stime are
    // fields 14 and 15.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| anyhow!("unexpected /proc/{pid}/stat: {stat}"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| -> Result<f64> {
        fields
            .get(n - 3)
            .and_then(|f| f.parse::<u64>().ok())
            .map(|v| v as f64)
            .ok_or_else(|| anyhow!("unexpected /proc/{pid}/stat: {stat}"))
    };
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Ok((field(14)? + field(15)?) / ticks)
}

// ---------------------------------------------------------------------------------------------
// Child processes

/// A child process, killed (by its PID) and reaped when dropped, also on panic. Children also
/// get SIGKILL from the kernel should the bench die without unwinding (PR_SET_PDEATHSIG).
struct ChildGuard {
    name: &'static str,
    child: Child,
    log: Option<PathBuf>,
}

impl ChildGuard {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn check_alive(&self) -> Result<()> {
        // try_wait needs &mut; /proc tells the same without reaping.
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().next());
        if matches!(state, None | Some("Z") | Some("X")) {
            bail!(
                "{} (pid {}) exited{}",
                self.name,
                self.pid(),
                self.log_tail()
            );
        }
        Ok(())
    }

    fn log_tail(&self) -> String {
        let Some(log) = &self.log else {
            return String::new();
        };
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..].join("\n");
        format!("\n--- {} log ({}) ---\n{tail}", self.name, log.display())
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(name: &'static str, command: &mut Command, log: Option<PathBuf>) -> Result<ChildGuard> {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let child = command
        .spawn()
        .with_context(|| format!("cannot start {name}"))?;
    Ok(ChildGuard { name, child, log })
}

/// Starts this binary in `role`; it prints its port on the first line of its stdout.
fn start_role(
    exe: &Path,
    role: &'static str,
    env: &[(&str, &str)],
    dir: &Path,
) -> Result<(ChildGuard, u16)> {
    let log = dir.join(format!("{role}.log"));
    let mut command = Command::new(exe);
    command
        .env(ROLE_ENV, role)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(std::fs::File::create(&log)?));
    let mut guard = spawn(role, &mut command, Some(log))?;
    let stdout = guard
        .child
        .stdout
        .take()
        .ok_or_else(|| anyhow!("no stdout from {role}"))?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let port = line.trim().parse::<u16>().map_err(|_| {
        anyhow!(
            "{role} did not report its port (got `{}`){}",
            line.trim(),
            guard.log_tail()
        )
    })?;
    Ok((guard, port))
}

/// In a child: exits when the bench closes our stdin (it ended, however it ended).
fn exit_with_parent() {
    std::thread::spawn(|| {
        let mut sink = [0u8; 64];
        let mut stdin = std::io::stdin();
        while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
        std::process::exit(0);
    });
}

fn announce_port(port: u16) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout();
    writeln!(out, "{port}")?;
    out.flush()?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Role: dns

/// A one-thread DNS server on UDP answering every query with one A record, 127.0.0.1.
fn run_dns() -> Result<()> {
    use hickory_proto::op::Message;
    use hickory_proto::rr::{rdata::A, RData, Record};
    exit_with_parent();
    let socket = std::net::UdpSocket::bind("127.0.0.1:0")?;
    announce_port(socket.local_addr()?.port())?;
    let mut buf = [0u8; 512];
    loop {
        let (n, from) = socket.recv_from(&mut buf)?;
        let Ok(query) = Message::from_vec(&buf[..n]) else {
            continue;
        };
        let mut answer = Message::response(query.metadata.id, query.metadata.op_code);
        answer.metadata.authoritative = true;
        answer.metadata.recursion_desired = query.metadata.recursion_desired;
        for q in &query.queries {
            answer.add_query(q.clone());
            answer.add_answer(Record::from_rdata(
                q.name().clone(),
                60,
                RData::A(A::new(127, 0, 0, 1)),
            ));
        }
        if let Ok(bytes) = answer.to_vec() {
            let _ = socket.send_to(&bytes, from);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Role: target

/// A one-thread HTTP/1.1 server answering every request with [`TARGET_RESPONSE`].
fn run_target() -> Result<()> {
    exit_with_parent();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        announce_port(listener.local_addr()?.port())?;
        loop {
            let (stream, _) = listener.accept().await?;
            tokio::spawn(serve_fixed(stream));
        }
    })
}

async fn serve_fixed(mut stream: tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0u8; 8192];
    let mut filled = 0;
    loop {
        if let Some(end) = buf[..filled].windows(4).position(|w| w == b"\r\n\r\n") {
            if stream.write_all(TARGET_RESPONSE).await.is_err() {
                return;
            }
            buf.copy_within(end + 4..filled, 0);
            filled -= end + 4;
            continue;
        }
        if filled == buf.len() {
            return;
        }
        match stream.read(&mut buf[filled..]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => filled += n,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Role: shopwatch exporter

/// Serves `GET /probe?target=URL` like blackbox_exporter: one shopwatch http probe per
/// request, rendered as Prometheus text.
fn run_exporter() -> Result<()> {
    exit_with_parent();
    let workers = std::env::var("PROBE_BENCH_WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(2);
    // The module, configured once; the target comes with each request, as in blackbox.
    let template = match http_probe("http://127.0.0.1:1/")? {
        ProbeConfig::Http(h) => h,
        _ => bail!("not an http probe"),
    };
    let template = Arc::new(*template);
    runtime(workers)?.block_on(async move {
        let app = axum::Router::new().route(
            "/probe",
            axum::routing::get(
                move |axum::extract::Query(query): axum::extract::Query<
                    HashMap<String, String>,
                >| {
                    let template = template.clone();
                    async move { probe_handler(&template, query).await }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        announce_port(listener.local_addr()?.port())?;
        axum::serve(listener, app).await?;
        Ok(())
    })
}

async fn probe_handler(
    template: &shopwatch::probe::HttpProbe,
    query: HashMap<String, String>,
) -> (
    http::StatusCode,
    [(http::HeaderName, &'static str); 1],
    String,
) {
    let content_type = (
        http::header::CONTENT_TYPE,
        "text/plain; version=0.0.4; charset=utf-8",
    );
    let Some(target) = query.get("target") else {
        return (
            http::StatusCode::BAD_REQUEST,
            [content_type],
            "target parameter is missing\n".to_string(),
        );
    };
    let url = match url::Url::parse(target) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => url,
        _ => {
            return (
                http::StatusCode::BAD_REQUEST,
                [content_type],
                format!("target `{target}` is not an http(s) URL\n"),
            )
        }
    };
    let mut probe = template.clone();
    probe.url = url;
    let result = ProbeConfig::Http(Box::new(probe)).run().await;
    (
        http::StatusCode::OK,
        [content_type],
        render(&result, target),
    )
}

// ---------------------------------------------------------------------------------------------
// Rendering as blackbox_exporter does

/// The result as Prometheus text with blackbox_exporter's metric families for an http probe,
/// built as blackbox does it: a fresh registry per probe, gathered and encoded.
fn render(result: &ProbeResult, target: &str) -> String {
    use prometheus::{Gauge, GaugeVec, Opts, Registry, TextEncoder};
    let registry = Registry::new();
    let gauge = |name: &str, help: &str, value: f64| {
        let g = Gauge::with_opts(Opts::new(name, help)).expect("valid metric");
        g.set(value);
        registry.register(Box::new(g)).expect("unique metric");
    };
    let m = &result.metrics;
    let secs = |p: Phase| m.phase(p).map_or(0.0, |d| d.as_secs_f64());
    gauge(
        "probe_dns_lookup_time_seconds",
        "Returns the time taken for probe dns lookup in seconds",
        secs(Phase::Resolve),
    );
    gauge(
        "probe_duration_seconds",
        "Returns how long the probe took to complete in seconds",
        result.duration.as_secs_f64(),
    );
    gauge(
        "probe_failed_due_to_regex",
        "Indicates if probe failed due to regex",
        0.0,
    );
    gauge(
        "probe_http_content_length",
        "Length of http content response",
        m.body_bytes.map_or(-1.0, |b| b as f64),
    );
    let phases = GaugeVec::new(
        Opts::new(
            "probe_http_duration_seconds",
            "Duration of http request by phase, summed over all redirects",
        ),
        &["phase"],
    )
    .expect("valid metric");
    for phase in Phase::ALL {
        phases.with_label_values(&[phase.as_str()]).set(secs(phase));
    }
    registry.register(Box::new(phases)).expect("unique metric");
    gauge(
        "probe_http_redirects",
        "The number of redirects",
        m.redirects as f64,
    );
    gauge(
        "probe_http_ssl",
        "Indicates if SSL was used for the final redirect",
        if m.tls.is_some() { 1.0 } else { 0.0 },
    );
    gauge(
        "probe_http_status_code",
        "Response HTTP status code",
        m.http_status.map_or(0.0, f64::from),
    );
    gauge(
        "probe_http_uncompressed_body_length",
        "Length of uncompressed response body",
        m.body_bytes.map_or(0.0, |b| b as f64),
    );
    gauge(
        "probe_http_version",
        "Returns the version of HTTP of the probe response",
        1.1,
    );
    // blackbox: FNV-1a (32 bit) of the address string.
    let host = url::Url::parse(target)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default();
    let hash = host.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    gauge(
        "probe_ip_addr_hash",
        "Specifies the hash of IP address. It's useful to detect if the IP address changes.",
        f64::from(hash),
    );
    gauge(
        "probe_ip_protocol",
        "Specifies whether probe ip protocol is IP4 or IP6",
        4.0,
    );
    gauge(
        "probe_success",
        "Displays whether or not the probe was a success",
        if result.success() { 1.0 } else { 0.0 },
    );
    TextEncoder::new()
        .encode_to_string(&registry.gather())
        .unwrap_or_default()
}
