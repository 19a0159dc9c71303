//! Every record into a JSON-lines file, each written exactly as the server
//! sent it (`JsonText`: no parse into a tree, no re-serialization), streamed
//! page by page with flat memory.
//!
//!     cargo run --example jsonl_dump [-- out.ndjson]

use std::io::{BufWriter, Write};

use pagewise::{Api, JsonText, Pagination, Total};
use pagewise_testserver::{Config, TestServer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("pagewise-example.ndjson"));
    let server = TestServer::start(Config {
        records: 3_000,
        ..Config::default()
    })?;
    let api = Api::builder(format!("{}/offset/", server.url()))
        .records_at("/data")
        .pagination(Pagination::offset().total(Total::header("X-Total-Count")))
        .page_size(250)
        .concurrency(4)
        .build()?;

    let mut out = BufWriter::new(std::fs::File::create(&path)?);
    let mut lines = 0u64;
    for record in api.blocking().list("items").iter::<JsonText>() {
        writeln!(out, "{}", record?.as_str())?;
        lines += 1;
    }
    out.flush()?;
    println!("JSON lines: {lines} records into {}", path.display());
    let text = std::fs::read_to_string(&path)?;
    assert_eq!(text.lines().count(), 3_000);
    Ok(())
}
