//! pagewise's async client on `futures::executor::block_on`: no runtime at all.
use std::time::Instant;

fn main() {
    let args = pagewise_bench::Args::parse();
    let mut started = Instant::now();
    let outcome = futures::executor::block_on(pagewise_bench::pagewise_async(&args, &mut started));
    pagewise_bench::print("pagewise-async-futures", &args, started, &outcome);
}
