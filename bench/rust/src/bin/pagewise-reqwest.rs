//! pagewise's async client over reqwest (HTTP/2 capable, tokio) through
//! `AsyncTransport`: "pagewise over reqwest", on a tokio multi-threaded
//! runtime (`#[tokio::main]`).
use std::time::Instant;

use pagewise_bench::reqwest_transport::ReqwestTransport;

#[tokio::main]
async fn main() {
    let args = pagewise_bench::Args::parse();
    let mut started = Instant::now();
    let outcome = pagewise_bench::pagewise_async_over(&args, &mut started, |api| {
        pagewise::Client::with_transport(api, ReqwestTransport::new())
    })
    .await;
    pagewise_bench::print("pagewise-reqwest", &args, started, &outcome);
}
