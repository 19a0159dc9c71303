//! A checkpoint made natively, for resuming elsewhere (the npm package's
//! cross-build test resumes it in Node): sweeps `<url>/offset/items`
//! (records at `/data`, offset + `X-Total-Count`, 100 per page) with the
//! blocking client, takes `N` records, writes the checkpoint JSON to a file
//! and prints how many records it took.
//!
//! ```text
//! cargo run --example checkpoint -- --url http://127.0.0.1:8080 --take 250 --out sweep.json [--ids ids.json]
//! ```
//!
//! `--ids` also writes the ids taken, as a JSON array.

use pagewise::{Api, Pagination, Total};

fn usage() -> ! {
    eprintln!("usage: checkpoint --url <server base> --take <N> --out <file> [--ids <file>]");
    std::process::exit(2)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (mut url, mut take, mut out, mut ids_out) = (None, None, None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--url" => url = Some(value),
            "--take" => take = Some(value.parse::<usize>().unwrap_or_else(|_| usage())),
            "--out" => out = Some(value),
            "--ids" => ids_out = Some(value),
            _ => usage(),
        }
    }
    let (Some(url), Some(take), Some(out)) = (url, take, out) else {
        usage()
    };

    let api = Api::builder(format!("{}/offset/", url.trim_end_matches('/')))
        .records_at("/data")
        .pagination(Pagination::offset().total(Total::header("X-Total-Count")))
        .page_size(100)
        .build()?;
    let client = api.blocking();
    let mut records = client.list("items").iter::<serde_json::Value>();
    let mut ids = Vec::with_capacity(take);
    while ids.len() < take {
        match records.next() {
            Some(record) => ids.push(record?["id"].clone()),
            None => break,
        }
    }
    let checkpoint = records
        .checkpoint()
        .ok_or("the sweep could not start: no checkpoint")?;
    std::fs::write(&out, checkpoint.to_json())?;
    if let Some(path) = ids_out {
        std::fs::write(path, serde_json::to_string(&ids)?)?;
    }
    println!("{}", ids.len());
    Ok(())
}
