//! A bounded mutation fuzzer for the journey and monitor configuration parsers, on stable Rust
//! and without extra tools: every seed (the shipped journeys and configuration, and every
//! invalid fixture) is mutated at random (bytes flipped, tokens inserted, lines repeated or cut,
//! two seeds spliced, numbers pushed to their limits, nesting made deep) and parsed. A panic is
//! a failure; the input that caused it is written under `target/fuzz-findings/` and named in
//! the failure, to be kept in `tests/fixtures/fuzz/` once fixed.
//!
//! Runs for `SHOPWATCH_FUZZ_SECONDS` (default 20) on two threads, from `SHOPWATCH_FUZZ_SEED`
//! (default: the clock; the seed is printed, so a run can be repeated). First, every kept
//! finding is parsed again.

use shopwatch::config::monitor::parse_monitor;
use shopwatch::config::parse_journey;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ffi::CString;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The most memory the fuzzer's process may hold. An input that makes a parser take more is a
/// finding like a panic: without this cap the kernel ends the test with SIGKILL, and nothing says
/// which input it was.
const MEMORY_CAP: usize = 4 << 30;

/// The system allocator, counting what is live; past [`MEMORY_CAP`] it writes the input being
/// parsed to `target/fuzz-findings/out-of-memory.yaml` and aborts (an allocator cannot
/// unwind).
struct CappedAllocator;

static LIVE: AtomicUsize = AtomicUsize::new(0);
/// The fuzzing run's seed, said when the cap is reached so that the run can be repeated even
/// where the findings file is gone (a CI clone).
static SEED: AtomicU64 = AtomicU64::new(0);
/// Where the input that ran out of memory is written (made before fuzzing starts: nothing may
/// be allocated once the cap is reached).
static OOM_FILE: OnceLock<CString> = OnceLock::new();

thread_local! {
    /// The input this thread is parsing, as a pointer and length into a live `String`.
    static PARSING: Cell<(*const u8, usize)> = const { Cell::new((std::ptr::null(), 0)) };
}

impl CappedAllocator {
    fn reserve(size: usize) {
        if LIVE.fetch_add(size, Ordering::Relaxed) + size > MEMORY_CAP {
            out_of_memory();
        }
    }
}

/// Writes the input being parsed and aborts, without allocating.
fn out_of_memory() -> ! {
    let (input, len) = PARSING.with(Cell::get);
    // SAFETY: only libc calls on a file name made at start and the input `check` holds while
    // it parses; the process ends right after.
    unsafe {
        if let Some(file) = OOM_FILE.get() {
            let fd = libc::open(
                file.as_ptr(),
                libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC,
                0o644,
            );
            if fd >= 0 && !input.is_null() {
                libc::write(fd, input.cast(), len);
                libc::close(fd);
            }
        }
        if input.is_null() {
            let said = b"\nfuzz: the fuzzer itself (not a parser) went over the memory cap";
            libc::write(2, said.as_ptr().cast(), said.len());
        }
        let message = b"\nfuzz: a parser went over the 4 GiB memory cap; the input is in target/fuzz-findings/out-of-memory.yaml";
        libc::write(2, message.as_ptr().cast(), message.len());
        let seed = SEED.load(Ordering::Relaxed);
        if seed != 0 {
            let said = b"; repeat with SHOPWATCH_FUZZ_SEED=";
            libc::write(2, said.as_ptr().cast(), said.len());
            let (digits, len) = decimal(seed);
            libc::write(2, digits[20 - len..].as_ptr().cast(), len);
        }
        libc::write(2, b"\n".as_ptr().cast(), 1);
        libc::abort();
    }
}

/// `n` in decimal, right-aligned in a stack buffer, and how many digits it has.
fn decimal(mut n: u64) -> ([u8; 20], usize) {
    let mut digits = [0u8; 20];
    let mut len = 0;
    loop {
        len += 1;
        digits[20 - len] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return (digits, len);
        }
    }
}

// SAFETY: every call goes to the system allocator; only the count is added.
unsafe impl GlobalAlloc for CappedAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Self::reserve(layout.size());
        // SAFETY: the caller's contract, passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Self::reserve(layout.size());
        // SAFETY: the caller's contract, passed on unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            Self::reserve(new_size - layout.size());
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        // SAFETY: the caller's contract, passed on unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CappedAllocator = CappedAllocator;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every YAML file directly in `dir`, sorted.
fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("list {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    files
}

fn seeds() -> Vec<String> {
    let root = root();
    let mut files = yaml_files(&root.join("journeys"));
    files.push(root.join("shopwatch.yaml"));
    for dir in [
        "tests/fixtures/invalid",
        "tests/fixtures/invalid-config",
        "tests/fixtures/invalid-config/journeys",
        "tests/fixtures/fuzz",
    ] {
        files.extend(yaml_files(&root.join(dir)));
    }
    let seeds: Vec<String> = files
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .collect();
    assert!(seeds.len() > 50, "only {} seeds found", seeds.len());
    seeds
}

/// Parses `source` as both kinds of file, the way `validate` and `run` do. The path is inside
/// the repository so that journey paths and globs resolve against real files.
fn parse_both(source: &str) {
    let file = root().join("fuzz-input.yaml");
    let _ = parse_journey(&file, source);
    let _ = parse_monitor(&file, source);
}

/// xorshift64*: deterministic from its seed, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Text that parsers and validators treat specially.
const TOKENS: &[&str] = &[
    ":",
    "- ",
    "{",
    "}",
    "[",
    "]",
    "\"",
    "'",
    "&a ",
    "*a",
    "!!str ",
    "!!binary ",
    "? ",
    "|\n",
    ">-\n",
    "#",
    "\n",
    "\t",
    "  ",
    "~",
    "null",
    "${",
    "${x}",
    "$$",
    "}",
    "0",
    "-1",
    "18446744073709551615",
    "18446744073709551616",
    "4294967296",
    "1e309",
    "NaN",
    ".inf",
    "18446744073709551615s",
    "9999999999d",
    "0s",
    "1ms",
    "366d",
    "367d",
    "*/1 * * * *",
    "0 0 31 2 *",
    "http://",
    "https://[::1]:0/",
    "file:///etc/passwd",
    "..",
    "../..",
    "/",
    "\u{0}",
    "\u{feff}",
    "é",
    "\u{202e}",
    "*",
    "**",
    "[!",
    "env:",
    "file:/dev/zero",
    "secret:",
    "selector:",
    "xpath: //",
    "journeys: [\"/**/*.yaml\"]",
    "max_size: 0",
    "every: 10s",
    "retries: 10",
    "timeout: 1ms",
];

fn mutate(rng: &mut Rng, seeds: &[String]) -> String {
    let mut bytes = rng.pick(seeds).clone().into_bytes();
    for _ in 0..=rng.below(4) {
        let at = rng.below(bytes.len() + 1);
        match rng.below(9) {
            0 => {
                if let Some(b) = bytes.get_mut(at) {
                    *b ^= 1 << rng.below(8);
                }
            }
            1 | 2 => {
                let token = rng.pick(TOKENS).as_bytes().to_vec();
                bytes.splice(at..at, token);
            }
            3 => {
                let end = (at + rng.below(40)).min(bytes.len());
                bytes.drain(at..end);
            }
            4 => {
                // Repeat one line many times (long lists, repeated keys).
                let text = String::from_utf8_lossy(&bytes).into_owned();
                let lines: Vec<&str> = text.lines().collect();
                if !lines.is_empty() {
                    let line = rng.pick(&lines).to_string();
                    let times = 1 + rng.below(200);
                    let mut out = String::new();
                    let mut repeated = false;
                    for l in &lines {
                        out.push_str(l);
                        out.push('\n');
                        // Once: repeating every copy of a line already repeated grows a
                        // 100 KB line into gigabytes in two mutations.
                        if *l == line && !repeated {
                            out.push_str(&format!("{line}\n").repeat(times));
                            repeated = true;
                        }
                    }
                    bytes = out.into_bytes();
                }
            }
            5 => {
                // Splice another seed's tail onto this one's head.
                let other = rng.pick(seeds).as_bytes();
                let from = rng.below(other.len() + 1);
                bytes.truncate(at);
                bytes.extend_from_slice(&other[from..]);
            }
            6 => {
                // Deep nesting, flow or block.
                let depth = 1 + rng.below(3000);
                let deep = if rng.below(2) == 0 {
                    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
                } else {
                    (0..depth.min(300))
                        .map(|i| format!("{}- \n", " ".repeat(i * 2)))
                        .collect()
                };
                bytes.splice(at..at, deep.into_bytes());
            }
            7 => {
                // A very long value.
                let long = "x".repeat(1 + rng.below(100_000));
                bytes.splice(at..at, long.into_bytes());
            }
            _ => {
                if let Some(b) = bytes.get_mut(at) {
                    *b = rng.next() as u8;
                }
            }
        }
        // A little over the 4 MiB a configuration may be: the refusal is tested, and the
        // fuzzer's own memory stays bounded.
        bytes.truncate(MAX_INPUT);
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The longest input the fuzzer makes.
const MAX_INPUT: usize = 5 << 20;

/// Parses `input`; a panic is written to the findings directory and returned as a failure.
fn check(input: &str) -> Result<Duration, String> {
    OOM_FILE.get_or_init(|| {
        let dir = root().join("target/fuzz-findings");
        let _ = std::fs::create_dir_all(&dir);
        CString::new(
            dir.join("out-of-memory.yaml")
                .into_os_string()
                .into_encoded_bytes(),
        )
        .expect("a path without NUL")
    });
    PARSING.with(|p| p.set((input.as_ptr(), input.len())));
    let started = Instant::now();
    let parsed = catch_unwind(AssertUnwindSafe(|| parse_both(input)));
    PARSING.with(|p| p.set((std::ptr::null(), 0)));
    match parsed {
        Ok(()) => Ok(started.elapsed()),
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            let dir = root().join("target/fuzz-findings");
            let _ = std::fs::create_dir_all(&dir);
            let file = dir.join(format!("panic-{:016x}.yaml", fnv(input)));
            let _ = std::fs::write(&file, input);
            Err(format!(
                "panic `{message}` on the input in {}",
                file.display()
            ))
        }
    }
}

/// Writes `input` to `target/fuzz-findings/<name>.yaml`; its path.
fn keep(name: &str, input: &str) -> PathBuf {
    let dir = root().join("target/fuzz-findings");
    let _ = std::fs::create_dir_all(&dir);
    let file = dir.join(format!("{name}.yaml"));
    let _ = std::fs::write(&file, input);
    file
}

fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

#[test]
fn kept_findings_parse_without_a_panic() {
    let dir = root().join("tests/fixtures/fuzz");
    let files = yaml_files(&dir);
    assert!(!files.is_empty(), "no kept findings in {}", dir.display());
    for file in files {
        let input = std::fs::read_to_string(&file).unwrap();
        if let Err(problem) = check(&input) {
            panic!("{}: {problem}", file.display());
        }
    }
}

#[test]
fn mutated_configurations_never_panic_the_parsers() {
    let seconds: u64 = std::env::var("SHOPWATCH_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let seed: u64 = std::env::var("SHOPWATCH_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        })
        | 1;
    eprintln!("fuzzing for {seconds}s from SHOPWATCH_FUZZ_SEED={seed}");
    SEED.store(seed, Ordering::Relaxed);
    // The default hook would print every caught panic; findings are reported below instead.
    std::panic::set_hook(Box::new(|_| {}));
    let seeds = seeds();
    let until = Instant::now() + Duration::from_secs(seconds);
    let results: Vec<(u64, Duration, Vec<String>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..2u64)
            .map(|worker| {
                let seeds = &seeds;
                scope.spawn(move || {
                    let mut rng = Rng(seed.wrapping_add(worker.wrapping_mul(0x9E37_79B9)) | 1);
                    let (mut count, mut slowest, mut findings) = (0, Duration::ZERO, Vec::new());
                    while Instant::now() < until && findings.len() < 5 {
                        let input = mutate(&mut rng, seeds);
                        match check(&input) {
                            Ok(took) if took > slowest => {
                                slowest = took;
                                keep(&format!("slowest-{worker}"), &input);
                            }
                            Ok(_) => {}
                            Err(problem) => findings.push(problem),
                        }
                        count += 1;
                    }
                    (count, slowest, findings)
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let _ = std::panic::take_hook();
    let count: u64 = results.iter().map(|r| r.0).sum();
    let slowest = results.iter().map(|r| r.1).max().unwrap_or_default();
    let findings: Vec<&String> = results.iter().flat_map(|r| &r.2).collect();
    eprintln!("{count} inputs parsed; the slowest took {slowest:?}");
    // The slowest inputs are kept under target/fuzz-findings/ to look at; time is not asserted.
    assert!(count >= 10, "only {count} inputs in {seconds}s");
    assert!(
        findings.is_empty(),
        "seed {seed}: {} panic(s):\n{}",
        findings.len(),
        findings
            .iter()
            .map(|f| f.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}
