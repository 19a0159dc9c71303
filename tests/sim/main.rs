//! The sans-IO core in simulated time: no network, no threads, no clock.
//!
//! Every test builds a [`scenario::Scenario`] (an API, the options of a
//! sweep, a simulated server with per-URL replies and latency), runs it to
//! its end in simulated time, and asserts exact request URLs and exact
//! record sequences. One module per topic.

mod scenario;

mod checkpoint;
mod credentials;
mod cursor;
mod deadlines;
mod dialects;
mod duplicates;
mod failures;
mod fetch;
mod keyset;
mod limits;
mod next_link;
mod offset;
mod order;
mod redirects;
mod retries;
mod short_pages;
mod totals;
mod urls;
mod window;

#[path = "../common/url_cases.rs"]
mod url_cases;
