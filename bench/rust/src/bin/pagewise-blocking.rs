//! pagewise's blocking client: a plain `Iterator` over typed records.
use std::time::Instant;

use pagewise_bench::{
    check_report, die, ids, pagewise_api, print, Args, Item, Kind, Outcome, Seen,
};

fn main() {
    let args = Args::parse();
    let api = pagewise_api(&args);
    let client = api.blocking();
    let started = Instant::now();
    let mut seen = Seen::new();
    let outcome = match args.kind() {
        Kind::Startup => Outcome::default(),
        Kind::Sweep => {
            let mut it = client.list("offset/items").iter::<Item>();
            for item in &mut it {
                let item = item.unwrap_or_else(|e| die(&format!("sweep: {e}")));
                seen.mark(item.id);
            }
            let report = check_report(it.report(), &seen);
            Outcome {
                records: seen.count(),
                requests: report.requests,
                throttled: report.retries.throttled,
                retries: report.retries.total(),
            }
        }
        Kind::FetchMany => {
            let mut it = client
                .fetch_many("items/{id}", ids(&args))
                .concurrency(args.concurrency)
                .iter::<Item>();
            for (id, item) in &mut it {
                let item = item.unwrap_or_else(|e| die(&format!("id {id}: {e}")));
                if item.id.to_string() != id {
                    die(&format!("asked for id {id}, got {}", item.id));
                }
                seen.mark(item.id);
            }
            seen.check(args.ids);
            let report = it
                .report()
                .cloned()
                .unwrap_or_else(|| die("fetch_many ended without a report"));
            Outcome {
                records: seen.count(),
                requests: report.requests,
                throttled: report.retries.throttled,
                retries: report.retries.total(),
            }
        }
    };
    print("pagewise-blocking", &args, started, &outcome);
}
