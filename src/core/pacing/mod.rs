//! Pacing: when the next request may go. One pacer serves every operation of
//! an `Api`, so a learnt rate or concurrency applies to the whole client, and
//! the first 429 pauses all of them. Pure: time comes in as `now`.
//!
//! The learnt rate comes from treating the server as a token bucket. A 429
//! says the bucket was empty when that request arrived; every request let
//! through before it since a known point (the bucket full at the start or
//! after a pause, or empty at the previous 429) bounds the bucket's rate from
//! below, and the 429 itself bounds it from above (see `fit`). The burst is
//! what the first fan-out got through, less what the bucket refilled
//! meanwhile. The rate settles near the lower bound, and probes upwards
//! slowly, and faster the longer no 429 comes.
//!
//! # States
//!
//! One pacer per `Api`, shared by every operation (the drivers hold it
//! behind a lock, and put every request through [`Pacer::admit`] before it
//! goes, handing its [`Ticket`] back with an [`Outcome`] in
//! [`Pacer::on_answer`]). What `admit` answers depends on the state:
//!
//! ```text
//!                     on_answer(Throttled), first 429 or not measured
//!        ┌───────────────────────────────────────────────────────────┐
//!        │                                                           ▼
//!   ┌────┴────┐  in_flight = limit  ┌──────┐                  ┌───────────┐
//!   │  Open   │ ──────────────────▶ │ Full │                  │  Paused   │
//!   │   Go    │ ◀────────────────── │ Wait │                  │ WaitUntil │
//!   └──┬───▲──┘  on_answer(any)     │ For  │                  │ (cooldown)│
//!      │   │                        │Answer│                  └─────┬─────┘
//!      │   │                        └──────┘                        │
//!      │   └──────────────────── the cooldown ends (now ≥ until) ───┘
//!      │   ▲
//!      ▼   │ a token is there
//!   ┌──────┴────┐  429 episodes ≤ 1 s apart   ┌────────────┐
//!   │  Spaced   │ ──────────────────────────▶ │ Experiment │
//!   │ WaitUntil │ ◀────────────────────────── │ WaitUntil  │
//!   └─────┬─────┘  fewer 429s (a real limit,  │ (0.6× pace)│
//!         ▲        none for 30 s), or far     └─────┬──────┘
//!         │        more (the rate fell: learnt      │ the share of
//!         │        from as any 429)                 │ 429s stays
//!         │                                         ▼
//!         │   the share of 429s climbs        ┌────────────┐
//!         └────────────────────────────────── │  Shedding  │
//!                                             │  Go (each  │
//!                                             │ 429 waits  │
//!                                             │  its own)  │
//!                                             └────────────┘
//! ```
//!
//! Spaced: a fixed rate limit, or the rate learnt from the 429s (the next
//! token); a 429 after the first pause slows the rate without pausing
//! everyone.
//!
//! - **Open**: `admit` returns [`Admission::Go`] with a ticket.
//! - **Full**: the adaptive concurrency is reached:
//!   [`Admission::WaitForAnswer`] until a request in flight is answered.
//!   A 503 or a timeout halves the limit (once per round); a window of
//!   successes grows it by one.
//! - **Paused**: a 429 (or 503 with `Retry-After`) paused every request:
//!   [`Admission::WaitUntil`] the end of the cooldown.
//! - **Spaced**: a rate (configured, or learnt) spaces requests:
//!   [`Admission::WaitUntil`] the next token. A budget announced in
//!   rate-limit headers (see `quota.rs`) spaces them too: half of what
//!   remains at once, the rest spread to the reset, and at remaining 0
//!   `WaitUntil` the reset (after a reset with the budget spent and no
//!   answer yet, `WaitForAnswer`).
//! - **Experiment**: with a rate learnt, 429 episodes keep coming (one
//!   within 1 s of the last, with enough requests between them to measure):
//!   the learnt rate is held and one window (enough answers for about three
//!   429s at the share seen since the last pause or experiment, 16 to 400)
//!   is paced at 0.6× the answer rate seen meanwhile, on purpose. Its 429s
//!   are counted, not learnt from, and pause no one. A share of 429s at
//!   least 0.34× the one before says **Shedding**; fewer say a real limit
//!   (back to the rate held, no experiment for 30 s); far more (over 3× the
//!   share, plus two) say the server's rate fell below the slow pace: that
//!   429 is learnt from as any other. No experiment whose pace would not be
//!   below 0.95× the learnt rate.
//! - **Shedding**: the 429s were found not to come from a rate (see
//!   `shedding.rs`, or the experiment above): no learnt rate, a 429 pauses no one and only its own
//!   request waits its `Retry-After`; back to learning should the share of
//!   429s climb well above the one seen.
//!
//! The machine is internal to the crate; the unit test
//! `tests::the_states_in_turn` walks these states, and
//! [`Api::pacing_stats`](crate::Api::pacing_stats) shows what it did
//! ([`PacerStats`]).

mod admission;
mod bucket;
mod config;
mod estimate;
pub(crate) mod headers;
mod pacer;
mod quota;
mod shedding;
#[cfg(test)]
mod sim_tests;
mod stats;
#[cfg(test)]
mod tests;

pub use self::admission::{Admission, Outcome, Ticket};
pub use self::config::Pacing;
pub use self::pacer::Pacer;
pub use self::stats::PacerStats;
