//! What the command says while it runs: a progress bar on stderr when it
//! is a terminal (indicatif), one JSON line a second with
//! `--json-progress`, nothing with `--quiet`; and the library's log lines
//! (`-v`: info, `-vv`: debug, `-vvv`: trace, for targets starting with
//! `pagewise`), printed above the bar.

use std::io::{IsTerminal, Write};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The bar of this run, once there is one: log lines are printed above it.
static BAR: OnceLock<ProgressBar> = OnceLock::new();

/// Log lines to stderr, above the progress bar when there is one.
struct AboveBar;

impl Write for AboveBar {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match BAR.get() {
            Some(bar) => bar.suspend(|| std::io::stderr().write_all(buf))?,
            None => std::io::stderr().write_all(buf)?,
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Installs the logger: `RUST_LOG` when set, otherwise the `pagewise*`
/// targets at `warn` (`error` when quiet), raised by each `-v`.
pub fn init_logging(verbose: u8, quiet: bool) {
    let level = match (verbose, quiet) {
        (0, true) => log::LevelFilter::Error,
        (0, false) => log::LevelFilter::Warn,
        (1, _) => log::LevelFilter::Info,
        (2, _) => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    };
    let mut b = env_logger::Builder::new();
    b.filter_level(log::LevelFilter::Off);
    // A directive matches targets that start with its name: `pagewise`,
    // `pagewise::request`, `pagewise_cli`.
    b.filter_module("pagewise", level);
    if verbose == 0 {
        if let Ok(spec) = std::env::var("RUST_LOG") {
            b.parse_filters(&spec);
        }
    }
    b.format_timestamp_millis();
    b.target(env_logger::Target::Pipe(Box::new(AboveBar)));
    let _ = b.try_init();
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Nothing.
    Quiet,
    /// A bar, on a terminal.
    Bar,
    /// A JSON line a second.
    Json,
}

impl Mode {
    /// The mode the flags and stderr ask for.
    pub fn choose(quiet: bool, json: bool) -> Mode {
        if json {
            Mode::Json
        } else if quiet || !std::io::stderr().is_terminal() {
            Mode::Quiet
        } else {
            Mode::Bar
        }
    }
}

/// A snapshot to show.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Records written (this run and the runs it resumes).
    pub records: u64,
    /// Records in all, when known.
    pub total: Option<u64>,
    /// 429s (throttled retries).
    pub throttled: u64,
    /// Other retries.
    pub retries: u64,
    /// Requests in flight allowed now.
    pub concurrency: usize,
    /// Estimated time left.
    pub eta: Option<Duration>,
}

/// The progress display of one run.
pub struct Progress {
    mode: Mode,
    bar: Option<ProgressBar>,
    last: Mutex<Option<Instant>>,
    start: Instant,
}

impl Progress {
    /// A display in `mode`.
    pub fn new(mode: Mode, what: &str) -> Progress {
        let bar = (mode == Mode::Bar).then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(8));
            let style = ProgressStyle::with_template(
                "{spinner} {prefix} {elapsed:>4} {bar:24} {human_pos}/{human_len} ETA {eta} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.set_prefix(what.to_string());
            bar.enable_steady_tick(Duration::from_millis(250));
            let _ = BAR.set(bar.clone());
            bar
        });
        Progress {
            mode,
            bar,
            last: Mutex::new(None),
            start: Instant::now(),
        }
    }

    /// Shows `s` (a JSON line at most once a second, or at the end when `last`).
    pub fn show(&self, s: &Snapshot, last: bool) {
        match self.mode {
            Mode::Quiet => {}
            Mode::Bar => {
                if let Some(bar) = &self.bar {
                    if let Some(t) = s.total {
                        bar.set_length(t);
                    }
                    bar.set_position(s.records);
                    let secs = self.start.elapsed().as_secs_f64().max(0.001);
                    bar.set_message(format!(
                        "{:.0}/s · 429s {} · retries {} · concurrency {}",
                        s.records as f64 / secs,
                        s.throttled,
                        s.retries,
                        s.concurrency
                    ));
                }
            }
            Mode::Json => {
                let mut at = self.last.lock().unwrap_or_else(|e| e.into_inner());
                let now = Instant::now();
                if !last && at.is_some_and(|t| now.duration_since(t) < Duration::from_secs(1)) {
                    return;
                }
                *at = Some(now);
                let line = serde_json::json!({
                    "records": s.records,
                    "total": s.total,
                    "throttled": s.throttled,
                    "retries": s.retries,
                    "concurrency": s.concurrency,
                    "elapsedMs": self.start.elapsed().as_millis() as u64,
                    "etaMs": s.eta.map(|d| d.as_millis() as u64),
                    "done": last,
                });
                let _ = writeln!(std::io::stderr(), "{line}");
            }
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
