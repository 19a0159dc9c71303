//! The async client on smol: two sweeps at once over one `Api` (they share
//! its concurrency limit and its pacing).
//!
//!     cargo run --example smol

use pagewise::{Api, Client, Pagination, Total};
use pagewise_testserver::{Config, TestServer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = TestServer::start(Config {
        records: 1_500,
        ..Config::default()
    })?;
    let api = Api::builder(format!("{}/offset/", server.url()))
        .records_at("/data")
        .pagination(Pagination::offset().total(Total::header("X-Total-Count")))
        .page_size(100)
        .concurrency(6)
        .build()?;
    let client = Client::new(&api);

    let (a, b) = smol::block_on(futures::future::try_join(
        client.list("items").collect::<serde_json::Value>(),
        client.list("items").collect::<serde_json::Value>(),
    ))?;
    println!("smol: two sweeps, {} and {} records", a.len(), b.len());
    assert_eq!((a.len(), b.len()), (1_500, 1_500));
    Ok(())
}
