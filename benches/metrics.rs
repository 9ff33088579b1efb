//! Metrics: the cost of recording a step timing, of rendering a scrape, and the memory of a
//! series.
//!
//! `cargo bench --bench metrics`. Targets: recording one step timing < 1 us; rendering 100
//! journeys x 10 steps < 10 ms.
//!
//! Besides criterion's wall times, it prints the CPU time of the measuring thread
//! (`CLOCK_THREAD_CPUTIME_ID`) for the same work: on a machine shared with other jobs the wall
//! time includes the time the thread waited for a core, the CPU time does not.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use shopwatch::journey::outcome::{Outcome, RunReport, StepOutcome, StepReport};
use shopwatch::metrics::{DurationSeries, Metrics, MetricsConfig};
use std::alloc::{GlobalAlloc, Layout, System};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::time::{Duration, Instant};

/// Counts the bytes allocated and not yet freed while [`COUNTING`] is set (only around the
/// memory measurements, so the timed benchmarks pay one relaxed load per allocation).
struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicIsize = AtomicIsize::new(0);

fn count(bytes: isize) {
    if COUNTING.load(Ordering::Relaxed) {
        LIVE.fetch_add(bytes, Ordering::Relaxed);
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as isize - layout.size() as isize);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The heap bytes `f`'s result holds (allocated while it ran and not freed), and the result.
fn heap_of<T>(f: impl FnOnce() -> T) -> (isize, T) {
    LIVE.store(0, Ordering::Relaxed);
    COUNTING.store(true, Ordering::Relaxed);
    let value = f();
    COUNTING.store(false, Ordering::Relaxed);
    (LIVE.load(Ordering::Relaxed), value)
}

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write to.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// The median of `samples` runs of `f`, each in CPU time of this thread.
fn median_cpu(samples: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..samples)
        .map(|_| {
            let start = thread_cpu();
            f();
            thread_cpu() - start
        })
        .collect();
    times.sort();
    times[samples / 2]
}

const JOURNEYS: usize = 100;
const STEPS: usize = 10;

/// A cheap deterministic spread of step times: 150..3150 ms.
fn step_ms(journey: usize, step: usize, run: usize) -> f64 {
    let x = (journey * 7919 + step * 104_729 + run * 1_299_709) % 3001;
    150.0 + x as f64
}

fn report(journey: usize, run: usize) -> RunReport {
    let steps: Vec<StepReport> = (0..STEPS)
        .map(|s| StepReport {
            duration_ms: Some(step_ms(journey, s, run)),
            ..StepReport::new(&format!("step {s:02}"), StepOutcome::Ok)
        })
        .collect();
    RunReport {
        journey: format!("journey-{journey:03}"),
        file: PathBuf::from("journeys/bench.yaml"),
        run_id: format!("run-{run}"),
        browser: "firefox",
        outcome: Outcome::Ok,
        attempts: 1,
        started_at: "2025-03-01T12:00:00.000Z".to_owned(),
        duration_ms: steps.iter().filter_map(|s| s.duration_ms).sum(),
        session_start_ms: Some(700.0 + run as f64),
        steps,
        previous_attempts: Vec::new(),
        error: None,
        error_class: None,
        artifacts_dir: None,
        artifact_errors: 0,
    }
}

fn names() -> Vec<String> {
    (0..JOURNEYS).map(|j| format!("journey-{j:03}")).collect()
}

/// 100 journeys x 10 steps, every series with `runs` values.
fn filled(runs: usize) -> Metrics {
    let m = Metrics::new(MetricsConfig::default(), Some("eu-west-1".to_owned()));
    let names = names();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    m.set_configured(&refs, &[]);
    for run in 0..runs {
        for j in 0..JOURNEYS {
            m.record_run(&report(j, run));
        }
    }
    m
}

fn record(c: &mut Criterion) {
    let mut group = c.benchmark_group("record");
    group.sample_size(50);
    group.measurement_time(Duration::from_secs(4));

    // A whole run of 10 steps: per step timing = time / 10.
    let m = Metrics::new(MetricsConfig::default(), Some("eu-west-1".to_owned()));
    m.set_configured(&["journey-000"], &[]);
    let reports: Vec<RunReport> = (0..64).map(|run| report(0, run)).collect();
    let mut i = 0;
    group.throughput(Throughput::Elements(STEPS as u64));
    group.bench_function("record_run, 10-step report", |b| {
        b.iter(|| {
            i = (i + 1) % reports.len();
            m.record_run(black_box(&reports[i]));
        })
    });

    // One step timing through the public path (lock, journey and step lookup, record).
    group.throughput(Throughput::Elements(1));
    let mut n = 0u64;
    group.bench_function("record_step_duration (Metrics, one step)", |b| {
        b.iter(|| {
            n += 1;
            m.record_step_duration(
                black_box("journey-000"),
                black_box("step 03"),
                Duration::from_millis(150 + n % 3000),
            );
        })
    });

    // One step timing into one series directly (buckets, slice and window HDR histograms).
    let bounds = MetricsConfig::default().step_buckets;
    let mut series = DurationSeries::new(bounds.len());
    let mut n = 0u64;
    group.bench_function("DurationSeries::record (one series)", |b| {
        b.iter(|| {
            n += 1;
            series.record(&bounds, black_box((150 + n % 3000) as f64 / 1000.0), 0);
        })
    });
    group.finish();
}

fn render(c: &mut Criterion) {
    let m = filled(60);
    let text = m.render();
    println!(
        "render: 100 journeys x 10 steps: {} bytes, {} lines, {} series",
        text.len(),
        text.lines().count(),
        text.lines().filter(|l| !l.starts_with('#')).count()
    );

    let mut group = c.benchmark_group("render");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(8));
    group.throughput(Throughput::Bytes(text.len() as u64));

    group.bench_function("100x10, unchanged since last scrape", |b| {
        b.iter(|| black_box(m.render()))
    });

    // Every series changed: one more run of every journey before each render (not timed).
    let mut run = 60;
    group.bench_function("100x10, all series changed since last scrape", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                run += 1;
                for j in 0..JOURNEYS {
                    m.record_run(&report(j, run));
                }
                let start = Instant::now();
                black_box(m.render());
                timed += start.elapsed();
            }
            timed
        })
    });
    group.finish();
}

/// Heap of one series after an hour of one value a minute, and of the whole 100 x 10 state.
fn memory() {
    let bounds = MetricsConfig::default().step_buckets;
    // The default window: 1 h in 6 slices of 10 min; one value a minute for an hour.
    let (counted, series) = heap_of(|| {
        let mut series = DurationSeries::new(bounds.len());
        for minute in 0..60u64 {
            let ms = step_ms(3, 5, minute as usize);
            series.record(&bounds, ms / 1000.0, minute / 10);
        }
        series
    });
    println!(
        "memory: one step series after 1 h at 1/min (values 150..3150 ms): {counted} heap bytes \
         (counting allocator); {} bytes of HDR counts, raw slices and buckets by their sizes; \
         plus {} bytes inline",
        series.heap_bytes(),
        std::mem::size_of::<DurationSeries>()
    );
    let (counted, m) = heap_of(|| filled(60));
    let series = JOURNEYS * STEPS + JOURNEYS;
    println!(
        "memory: 100 journeys x 10 steps after 60 runs each: {counted} heap bytes in all, {} \
         per duration series ({series} series: steps and journeys; names and maps included)",
        counted / series as isize
    );
    drop(m);
}

/// The same work as the criterion benchmarks, in CPU time of this thread.
fn cpu_times() {
    let m = Metrics::new(MetricsConfig::default(), Some("eu-west-1".to_owned()));
    m.set_configured(&["journey-000"], &[]);
    let reports: Vec<RunReport> = (0..1000).map(|run| report(0, run)).collect();
    let per_run = median_cpu(15, || {
        for r in &reports {
            m.record_run(black_box(r));
        }
    }) / reports.len() as u32;
    println!(
        "cpu: record_run of a 10-step report: {per_run:?} (per step timing: {:?})",
        per_run / STEPS as u32
    );

    let m = filled(60);
    m.render();
    let unchanged = median_cpu(31, || {
        black_box(m.render());
    });
    let mut run = 60;
    let mut changed = Vec::new();
    for _ in 0..31 {
        run += 1;
        for j in 0..JOURNEYS {
            m.record_run(&report(j, run));
        }
        let start = thread_cpu();
        black_box(m.render());
        changed.push(thread_cpu() - start);
    }
    changed.sort();
    println!(
        "cpu: render 100x10: unchanged {unchanged:?}, all series changed {:?} (medians of 31)",
        changed[15]
    );
}

fn benches(c: &mut Criterion) {
    memory();
    cpu_times();
    record(c);
    render(c);
}

criterion_group!(metrics, benches);
criterion_main!(metrics);
