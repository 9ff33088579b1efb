//! The monitor out of file descriptors: a probe or an `http` action that cannot open a socket
//! is the monitor's `error`, never the shop's `failed` (which would page the shop's on-call).
//!
//! Its own test binary with one test: it fills this process's descriptor table for real,
//! which would break any test running beside it.

mod util;

use shopwatch::journey::outcome::{Outcome, StepOutcome};
use shopwatch::journey::runner::Runner;
use shopwatch::journey::secrets::Redactor;
use shopwatch::webdriver::Endpoint;
use std::collections::HashMap;
use std::path::Path;
use tokio_util::sync::CancellationToken;

#[test]
fn out_of_file_descriptors_is_a_monitor_error_not_a_shop_failure() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let shop = runtime.block_on(util::start_shop());
    let file = Path::new("fd-exhaustion.yaml");
    let probes = shopwatch::probe::config::parse_probes(
        file,
        &format!(
            "probes:\n  - http: {{name: home, url: \"{}/\", every: 10s}}\n",
            shop.url()
        ),
    )
    .expect("probe config");
    let journey = shopwatch::config::parse_journey(
        file,
        &format!(
            "journey: api\nbase_url: {}\nsteps:\n  - step: health\n    do:\n      - http: {{ url: / }}\n",
            shop.url()
        ),
    )
    .expect("journey");
    let values = HashMap::new();
    let run_journey = |runner: &Runner| {
        runtime.block_on(runner.run(&journey, &values, &Redactor::default(), &mut |_| {}))
    };
    let new_runner = || {
        Runner::new(
            Endpoint::Local,
            None,
            CancellationToken::new(),
            Default::default(),
        )
    };

    // With descriptors to spare, both pass.
    assert_eq!(runtime.block_on(probes[0].run()).outcome, Outcome::Ok);
    assert_eq!(run_journey(&new_runner()).outcome, Outcome::Ok);
    // A runner made now has no pooled connection to reuse once the descriptors are gone.
    let runner = new_runner();

    // A small limit (the hard one stays), filled to the last descriptor.
    let limit = libc::rlimit {
        rlim_cur: 256,
        rlim_max: current_hard_limit(),
    };
    // SAFETY: setrlimit on this process; no memory is shared.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
    let mut held = Vec::new();
    let emfile = loop {
        match std::fs::File::open("/dev/null") {
            Ok(f) => held.push(f),
            Err(e) => break e,
        }
    };
    assert_eq!(emfile.raw_os_error(), Some(libc::EMFILE), "{emfile}");

    let probe = runtime.block_on(probes[0].run());
    let journey_run = run_journey(&runner);
    drop(held);

    assert_eq!(probe.outcome, Outcome::Error, "{probe:?}");
    assert!(
        probe.reason.as_deref().unwrap_or("").contains("EMFILE"),
        "{probe:?}"
    );
    assert_eq!(journey_run.outcome, Outcome::Error, "{journey_run:?}");
    let step = &journey_run.steps[0];
    assert_eq!(step.outcome, StepOutcome::Error, "{step:?}");
    assert!(
        step.reason
            .as_deref()
            .unwrap_or("")
            .contains("out of file descriptors"),
        "{step:?}"
    );
}

fn current_hard_limit() -> libc::rlim_t {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    assert_eq!(
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
        0
    );
    limit.rlim_max
}
