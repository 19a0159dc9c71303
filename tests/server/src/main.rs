//! `pagewise-testserver`: serve the seeded test collection until killed.

#![forbid(unsafe_code)]

use std::io::Write as _;
use std::net::{SocketAddr, ToSocketAddrs as _};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use pagewise_testserver::{Config, TestServer};

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
    /// Seed for record contents and latency jitter.
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
    let config = Config {
        records: args.records,
        seed: args.seed,
        default_page_size: args.page_size,
        max_page_size: args.max_page_size,
        latency: Duration::from_millis(args.latency_ms),
        jitter: Duration::from_millis(args.jitter_ms),
    };
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
    let _ = stdout.flush();
    drop(stdout);
    server.wait();
    ExitCode::SUCCESS
}
