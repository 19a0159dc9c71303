//! The async client on tokio: a stream of records from the built-in test
//! API server, 8 requests in flight. pagewise brings no runtime of its own;
//! its futures run on tokio's (or any other) executor.
//!
//!     cargo run --example tokio

use futures::StreamExt;
use pagewise::{Api, Client, Pagination, Total};
use pagewise_testserver::{Config, TestServer};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = TestServer::start(Config {
        records: 2_500,
        ..Config::default()
    })?;
    let api = Api::builder(format!("{}/offset/", server.url()))
        .records_at("/data")
        .pagination(Pagination::offset().total(Total::header("X-Total-Count")))
        .page_size(100)
        .concurrency(8)
        .build()?;
    let client = Client::new(&api);

    let mut stream = client.list("items").stream::<serde_json::Value>();
    let mut count = 0u64;
    while let Some(record) = stream.next().await {
        let record = record?;
        if count == 0 {
            println!("first record: {record}");
        }
        count += 1;
    }
    println!("tokio: {count} records");
    assert_eq!(count, 2_500);
    Ok(())
}
