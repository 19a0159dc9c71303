//! pagewise's async client on a tokio multi-threaded runtime, as a tokio
//! application would use it (`#[tokio::main]`).
use std::time::Instant;

#[tokio::main]
async fn main() {
    let args = pagewise_bench::Args::parse();
    let mut started = Instant::now();
    let outcome = pagewise_bench::pagewise_async(&args, &mut started).await;
    pagewise_bench::print("pagewise-async-tokio", &args, started, &outcome);
}
