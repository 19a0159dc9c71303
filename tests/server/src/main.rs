//! `pagewise-testserver`: serve the seeded test collection until killed.

#![forbid(unsafe_code)]

use std::io::Write as _;
use std::net::{SocketAddr, ToSocketAddrs as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use pagewise_testserver::{
    Budget, BudgetHeaders, Config, FamilyConfig, Faults, RateLimit, RetryAfter, SecondaryLimit,
    TestServer,
};

/// Deterministic HTTP/1.1 server of paginated JSON records in every dialect
/// pagewise speaks (offset, range, page, cursor, link, next, keyset).
#[derive(Debug, Parser)]
#[command(name = "pagewise-testserver", version)]
struct Args {
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to bind (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Number of records (ids 1..=N).
    #[arg(long, default_value_t = 20_000)]
    records: u64,
    /// Seed for record contents, latency jitter and fault decisions.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Fixed latency before each answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Extra uniform random latency in [0, jitter), in milliseconds.
    #[arg(long, default_value_t = 0)]
    jitter_ms: u64,
    /// Default page size when the request gives none.
    #[arg(long, default_value_t = 100)]
    page_size: u64,
    /// Largest page size served; larger requests are clamped.
    #[arg(long, default_value_t = 1000)]
    max_page_size: u64,
    /// Most records one POST /batch/items may carry.
    #[arg(long, default_value_t = 200)]
    max_batch: u64,
    /// Share of answers replaced by 500/502/503 (0.0..=1.0).
    #[arg(long, default_value_t = 0.0, value_parser = rate)]
    error_rate: f64,
    /// Token-bucket rate limit over all data requests, in requests per
    /// second (beyond it: 429). Off unless given.
    #[arg(long)]
    rate_limit_per_second: Option<u32>,
    /// Bucket capacity of the rate limit (default: the per-second rate).
    #[arg(long, requires = "rate_limit_per_second")]
    rate_limit_burst: Option<u32>,
    /// Form of Retry-After on 429 answers.
    #[arg(long, value_enum, default_value_t = RetryAfterArg::Seconds)]
    retry_after: RetryAfterArg,
    /// Share of answers whose connection is dropped mid-body.
    #[arg(long, default_value_t = 0.0, value_parser = rate)]
    drop_rate: f64,
    /// Share of 200 answers whose JSON body is cut in half.
    #[arg(long, default_value_t = 0.0, value_parser = rate)]
    truncate_rate: f64,
    /// Share of 200 answers sent with an empty body.
    #[arg(long, default_value_t = 0.0, value_parser = rate)]
    empty_rate: f64,
    /// Share of 200 answers sent with the body `null`.
    #[arg(long, default_value_t = 0.0, value_parser = rate)]
    null_rate: f64,
    /// Share of writes applied but answered 503 or dropped.
    #[arg(long, default_value_t = 0.0, value_parser = rate)]
    ack_loss_rate: f64,
    /// Share of answers delayed by --slow-ms extra.
    #[arg(long, default_value_t = 0.0, value_parser = rate)]
    slow_rate: f64,
    /// Extra delay of a slow answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    slow_ms: u64,
    /// ServiceNow: largest (and default) sysparm_limit.
    #[arg(long, default_value_t = 1000)]
    servicenow_max_limit: u64,
    /// Salesforce: query batch size without Sforce-Query-Options.
    #[arg(long, default_value_t = 2000)]
    salesforce_batch_size: u64,
    /// Salesforce: the daily API request limit shown in Sforce-Limit-Info.
    #[arg(long, default_value_t = 15000)]
    salesforce_api_limit: u64,
    /// GitHub: requests per rate-limit window.
    #[arg(long, default_value_t = 5000)]
    github_budget: u64,
    /// GitHub: rate-limit window, in seconds.
    #[arg(long, default_value_t = 3600)]
    github_window_secs: u64,
    /// GitHub: status of a rate-limit answer (403 or 429).
    #[arg(long, default_value_t = 403)]
    github_limit_status: u16,
    /// GitHub: trip the secondary rate limit every N requests. Off unless given.
    #[arg(long)]
    github_secondary_every: Option<u64>,
    /// GitHub: Retry-After seconds of the secondary rate limit.
    #[arg(long, default_value_t = 1)]
    github_secondary_retry_after: u64,
    /// JSON:API: largest (and default) page size.
    #[arg(long, default_value_t = 50)]
    jsonapi_max_page_size: u64,
    /// JSON:API: leave meta.total (and links.last) out of list answers.
    #[arg(long)]
    jsonapi_no_total: bool,
    /// PostgREST: db-max-rows.
    #[arg(long, default_value_t = 1000)]
    postgrest_max_rows: u64,
    /// PostgREST / Supabase: require this apikey header.
    #[arg(long)]
    postgrest_apikey: Option<String>,
    /// Require `Authorization: Bearer <token>` on the ServiceNow, Salesforce,
    /// GitHub, JSON:API and Stripe routes.
    #[arg(long)]
    token: Option<String>,
    /// A budget announced in rate-limit headers: this many data requests
    /// per --budget-window-ms (beyond it: 429 with Retry-After). Off unless
    /// given.
    #[arg(long)]
    budget: Option<u32>,
    /// The budget's fixed window, in milliseconds.
    #[arg(long, default_value_t = 1000, requires = "budget")]
    budget_window_ms: u64,
    /// The budget's header family.
    #[arg(long, value_enum, default_value_t = BudgetHeadersArg::XRateLimit, requires = "budget")]
    budget_headers: BudgetHeadersArg,
    /// Load shedding: share of data requests answered 429 with
    /// `Retry-After: 1`, whatever the rate.
    #[arg(long, default_value_t = 0.0, value_parser = rate)]
    shed_rate: f64,
    /// The demo: 200,000 records, 30 ms latency, a rate limit of 100/s
    /// (burst 20; 429 beyond it), 0.5% 5xx, the dashboard under /www/, the
    /// npm package under /npm/ and uPlot under /vendor/. Replaces the collection and fault
    /// flags above (--host, --port and the folders still apply).
    #[arg(long)]
    demo: bool,
    /// Folder served under /www/ (default with --demo: the repository's www/).
    #[arg(long)]
    www_dir: Option<PathBuf>,
    /// npm package served under /npm/, only index.js, index.d.ts and wasm/**
    /// (default with --demo: the repository's bindings/npm/).
    #[arg(long)]
    npm_dir: Option<PathBuf>,
    /// node_modules folder whose uPlot files are served under /vendor/
    /// (default with --demo: the repository's node_modules/).
    #[arg(long)]
    vendor_dir: Option<PathBuf>,
    /// Send no CORS headers (a server a page of another origin cannot read).
    #[arg(long)]
    no_cors: bool,
}

/// `--budget-headers` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BudgetHeadersArg {
    /// `X-RateLimit-Limit` / `-Remaining` / `-Reset` (reset: epoch seconds).
    XRateLimit,
    /// `RateLimit-Limit` / `-Remaining` / `-Reset` (reset: seconds from now).
    Ietf,
}

/// `--retry-after` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum RetryAfterArg {
    /// `Retry-After: <seconds>`.
    Seconds,
    /// `Retry-After: <IMF-fixdate>`.
    HttpDate,
    /// No Retry-After header.
    None,
}

fn rate(raw: &str) -> Result<f64, String> {
    let value: f64 = raw.parse().map_err(|e| format!("{e}"))?;
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("{value} is not within 0.0..=1.0"))
    }
}

fn resolve(host: &str, port: u16) -> std::io::Result<SocketAddr> {
    (host, port).to_socket_addrs()?.next().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{host} resolves to no address"),
        )
    })
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut config = if args.demo {
        Config::demo()
    } else {
        config_from(&args)
    };
    if let Some(dir) = &args.www_dir {
        config.www_dir = Some(dir.clone());
    }
    if let Some(dir) = &args.npm_dir {
        config.npm_dir = Some(dir.clone());
    }
    if let Some(dir) = &args.vendor_dir {
        config.vendor_dir = Some(dir.clone());
    }
    config.cors = !args.no_cors;
    let demo_lines = args.demo.then(|| {
        let www = config.www_dir.clone().unwrap_or_default();
        let npm_wasm = config.npm_dir.clone().unwrap_or_default().join("wasm");
        let uplot = config.vendor_dir.clone().unwrap_or_default().join("uplot");
        let mut missing = Vec::new();
        if !www.is_dir() {
            missing.push(format!("{} does not exist", www.display()));
        }
        if !npm_wasm.is_dir() {
            missing.push(format!(
                "{} is not built (npm ci && npm run build)",
                npm_wasm.display()
            ));
        }
        if !uplot.is_dir() {
            missing.push(format!("{} is not installed (npm ci)", uplot.display()));
        }
        let note = if missing.is_empty() {
            String::new()
        } else {
            format!(
                " (the dashboard will not load: {}; scripts/demo.sh does it all)",
                missing.join("; ")
            )
        };
        (note, config.api_summary())
    });
    run(&args, config, demo_lines)
}

/// The configuration the flags describe (without --demo).
fn config_from(args: &Args) -> Config {
    Config {
        records: args.records,
        seed: args.seed,
        default_page_size: args.page_size,
        max_page_size: args.max_page_size,
        latency: Duration::from_millis(args.latency_ms),
        jitter: Duration::from_millis(args.jitter_ms),
        max_batch: args.max_batch,
        families: FamilyConfig {
            servicenow_max_limit: args.servicenow_max_limit,
            salesforce_batch_size: args.salesforce_batch_size,
            salesforce_api_limit: args.salesforce_api_limit,
            github_budget: args.github_budget,
            github_window: Duration::from_secs(args.github_window_secs),
            github_limit_status: args.github_limit_status,
            github_secondary: args.github_secondary_every.map(|every| SecondaryLimit {
                every,
                status: args.github_limit_status,
                retry_after_secs: args.github_secondary_retry_after,
            }),
            jsonapi_max_page_size: args.jsonapi_max_page_size,
            jsonapi_meta_total: !args.jsonapi_no_total,
            postgrest_max_rows: args.postgrest_max_rows,
            postgrest_apikey: args.postgrest_apikey.clone(),
            token: args.token.clone(),
            ..FamilyConfig::default()
        },
        faults: Faults {
            error_rate: args.error_rate,
            rate_limit: args.rate_limit_per_second.map(|per_second| RateLimit {
                per_second,
                burst: args.rate_limit_burst.unwrap_or(per_second).max(1),
                retry_after: match args.retry_after {
                    RetryAfterArg::Seconds => RetryAfter::Seconds,
                    RetryAfterArg::HttpDate => RetryAfter::HttpDate,
                    RetryAfterArg::None => RetryAfter::None,
                },
            }),
            drop_rate: args.drop_rate,
            truncate_rate: args.truncate_rate,
            empty_rate: args.empty_rate,
            null_rate: args.null_rate,
            ack_loss_rate: args.ack_loss_rate,
            slow_rate: args.slow_rate,
            slow_ms: args.slow_ms,
            budget: args.budget.map(|limit| Budget {
                limit,
                window_ms: args.budget_window_ms,
                headers: match args.budget_headers {
                    BudgetHeadersArg::XRateLimit => BudgetHeaders::XRateLimit,
                    BudgetHeadersArg::Ietf => BudgetHeaders::Ietf,
                },
            }),
            shed_rate: args.shed_rate,
            ..Faults::default()
        },
        ..Config::default()
    }
}

fn run(args: &Args, config: Config, demo_lines: Option<(String, String)>) -> ExitCode {
    let server =
        match resolve(&args.host, args.port).and_then(|addr| TestServer::start_on(config, addr)) {
            Ok(server) => server,
            Err(err) => {
                eprintln!(
                    "pagewise-testserver: cannot listen on {}:{}: {err}",
                    args.host, args.port
                );
                return ExitCode::FAILURE;
            }
        };
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "listening on {}", server.url());
    if let Some((note, summary)) = demo_lines {
        let _ = writeln!(stdout, "open {}/www/{note}", server.url());
        let _ = writeln!(stdout, "demo API: {summary}");
    }
    let _ = stdout.flush();
    drop(stdout);
    server.wait();
    ExitCode::SUCCESS
}
