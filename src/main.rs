use clap::Parser;
use shopwatch::cli::{self, Cli};

fn main() {
    limit_malloc_arenas();
    let cli = Cli::parse();
    // The monitor logs what it does; one-off commands print their own report.
    let default_filter = match cli.command {
        cli::Command::Run { .. } => "shopwatch=info,warn",
        _ => "warn",
    };
    // Every log line goes through the redactor of the secrets read so far.
    let logs = shopwatch::journey::secrets::LogRedaction::default();
    shopwatch::logging::init(cli.log_format, default_filter, logs.clone());
    // The guard needs no async runtime (and no runtime threads): it only waits and reaps.
    if let cli::Command::Guard(args) = &cli.command {
        std::process::exit(shopwatch::webdriver::guard::serve(args));
    }
    shopwatch::webdriver::guard::enable();
    // Browsers, drivers and probes all take descriptors; the usual soft default of 1024 is
    // far below the hard limit a service may use.
    match shopwatch::resources::raise_fd_limit() {
        Some(limit) => tracing::debug!("open files limit: {limit}"),
        None => tracing::warn!("cannot read the open files limit"),
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            std::process::exit(cli::exit::MONITOR_ERROR);
        }
    };
    let code = runtime.block_on(cli::run(cli, logs));
    // Drivers are already stopped; do not wait on stray blocking tasks.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    std::process::exit(code);
}

/// glibc's malloc gives threads their own arenas, up to 8 per core, and an arena keeps much of
/// what was freed in it. Tokio's blocking pool runs every probe's `getaddrinfo` and starts
/// threads by the dozen under load: with 1,000 https probes of a host name the monitor grew
/// past 100 MB over minutes, against 23 MB with two arenas (BENCHMARKS.md, `probe_rss`). One
/// arena per core: the runtime's worker threads (one per core) rarely wait on each other, and
/// the pool's threads share those. `MALLOC_ARENA_MAX` in the environment still decides.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let arenas = i32::try_from(cores).unwrap_or(i32::MAX);
        // SAFETY: mallopt only sets a malloc parameter; no other thread runs yet.
        unsafe { libc::mallopt(libc::M_ARENA_MAX, arenas) };
    }
}
