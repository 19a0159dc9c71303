//! A GitHub-style sweep: pages follow the RFC 8288 `Link: <...>; rel="next"`
//! header, the page size goes in `per_page`. Against GitHub itself use
//! `Api::builder_for(Preset::GitHub)`, which sets the same (and more).
//!
//!     cargo run --example link_sweep

use pagewise::{Api, Link, Pagination};
use pagewise_testserver::{Config, TestServer};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Item {
    id: u64,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = TestServer::start(Config {
        records: 730,
        ..Config::default()
    })?;
    let api = Api::builder(format!("{}/link/", server.url()))
        .records_at("") // a top-level array, as GitHub answers
        .pagination(Pagination::next_url(Link::LinkHeader).limit_param(Some("per_page")))
        .page_size(100)
        .build()?;
    let (items, report) = api.blocking().list("items").collect_with_report::<Item>()?;
    println!(
        "Link sweep: {} records in {} pages, ids {}..={}",
        items.len(),
        report.pages,
        items.first().map_or(0, |i| i.id),
        items.last().map_or(0, |i| i.id)
    );
    assert_eq!(items.len(), 730);
    assert_eq!(report.pages, 8);
    Ok(())
}
