//! The pacer on its own, in simulated time.

use std::time::Duration;

use web_time::Instant;

use super::estimate::fit;
use super::*;

fn go(p: &mut Pacer, now: Instant) -> Ticket {
    match p.admit(now) {
        Admission::Go(t) => t,
        other => panic!("expected Go, got {other:?}"),
    }
}

#[test]
fn a_429_pauses_every_request_until_the_cooldown_ends() {
    let t0 = crate::core::test_origin();
    let mut p = Pacer::new(Pacing::default().adaptive(false), 8);
    let tickets: Vec<Ticket> = (0..4).map(|_| go(&mut p, t0)).collect();
    p.on_answer(
        tickets[0],
        Outcome::Throttled {
            retry_after: Some(Duration::from_secs(2)),
        },
        t0,
    );
    // Every other request now waits, not only the throttled one.
    assert_eq!(
        p.admit(t0 + Duration::from_millis(10)),
        Admission::WaitUntil(t0 + Duration::from_secs(2))
    );
    assert_eq!(p.poll_timeout(), Some(t0 + Duration::from_secs(2)));
    // A later 429 with a shorter Retry-After does not shorten the pause; a longer one extends it.
    p.on_answer(
        tickets[1],
        Outcome::Throttled {
            retry_after: Some(Duration::from_secs(1)),
        },
        t0,
    );
    assert_eq!(p.poll_timeout(), Some(t0 + Duration::from_secs(2)));
    p.on_answer(
        tickets[2],
        Outcome::Throttled {
            retry_after: Some(Duration::from_secs(3)),
        },
        t0 + Duration::from_secs(1),
    );
    assert_eq!(p.poll_timeout(), Some(t0 + Duration::from_secs(4)));
    assert_eq!(p.stats().throttled, Duration::from_secs(4));
    assert_eq!(p.stats().throttles, 3);
    assert!(matches!(
        p.admit(t0 + Duration::from_secs(4)),
        Admission::Go(_)
    ));
    // Without Retry-After: the configured pause (1 s), clamped maximum for huge ones.
    let mut p = Pacer::new(
        Pacing::default()
            .adaptive(false)
            .max_cooldown(Duration::from_secs(5)),
        2,
    );
    let t = go(&mut p, t0);
    p.on_answer(t, Outcome::Throttled { retry_after: None }, t0);
    assert_eq!(p.poll_timeout(), Some(t0 + Duration::from_secs(1)));
    let t = go(&mut p, t0 + Duration::from_secs(1));
    p.on_answer(
        t,
        Outcome::Throttled {
            retry_after: Some(Duration::from_secs(3600)),
        },
        t0 + Duration::from_secs(1),
    );
    assert_eq!(p.poll_timeout(), Some(t0 + Duration::from_secs(6)));
}

#[test]
fn aimd_halves_once_per_round_and_grows_by_one_per_window() {
    let t0 = crate::core::test_origin();
    let mut p = Pacer::new(Pacing::default(), 16);
    let round: Vec<Ticket> = (0..16).map(|_| go(&mut p, t0)).collect();
    assert_eq!(p.admit(t0), Admission::WaitForAnswer);
    // Three 503s from the same round: one decrease.
    for t in &round[..3] {
        p.on_answer(*t, Outcome::Overloaded, t0);
    }
    assert_eq!(p.concurrency(), 8);
    assert_eq!(p.stats().decreases, 1);
    for t in &round[3..] {
        p.on_answer(*t, Outcome::Ok, t0);
    }
    // 13 successes at limit 8: one increase, then 5 towards the next window.
    assert_eq!(p.concurrency(), 9);
    // A failure of a request sent after the decrease halves again.
    let t = go(&mut p, t0);
    p.on_answer(t, Outcome::Overloaded, t0);
    assert_eq!(p.concurrency(), 4);
    // Never below 1, never above the configured maximum.
    for _ in 0..10 {
        let t = go(&mut p, t0);
        p.on_answer(t, Outcome::Overloaded, t0);
    }
    assert_eq!(p.concurrency(), 1);
    for _ in 0..1000 {
        let t = go(&mut p, t0);
        p.on_answer(t, Outcome::Ok, t0);
    }
    assert_eq!(p.concurrency(), 16);
    // Adaptive off: the limit never moves.
    let mut p = Pacer::new(Pacing::default().adaptive(false), 4);
    let t = go(&mut p, t0);
    p.on_answer(t, Outcome::Overloaded, t0);
    assert_eq!(p.concurrency(), 4);
}

#[test]
fn a_fixed_rate_limit_spaces_requests() {
    let t0 = crate::core::test_origin();
    let mut p = Pacer::new(Pacing::default().rate_limit(10.0, 2), 64);
    go(&mut p, t0);
    go(&mut p, t0);
    match p.admit(t0) {
        Admission::WaitUntil(at) => assert_eq!(at, t0 + Duration::from_millis(100)),
        other => panic!("{other:?}"),
    }
    go(&mut p, t0 + Duration::from_millis(100));
    // 1 s later the burst is back, but no more than the burst.
    let t1 = t0 + Duration::from_millis(1100);
    go(&mut p, t1);
    go(&mut p, t1);
    assert!(matches!(p.admit(t1), Admission::WaitUntil(_)));
}

/// A token bucket server: `(accepted, tokens, at)`.
fn serve(bucket: &mut (f64, Instant), rate: f64, burst: f64, now: Instant) -> bool {
    let dt = now.saturating_duration_since(bucket.1).as_secs_f64();
    bucket.0 = (bucket.0 + dt * rate).min(burst);
    bucket.1 = now;
    if bucket.0 >= 1.0 {
        bucket.0 -= 1.0;
        true
    } else {
        false
    }
}

#[test]
fn a_fit_brackets_the_rate_of_the_bucket_that_answered() {
    // Requests every 15 ms (66/s) at a bucket of 50/s, burst 10, full at t0.
    let t0 = crate::core::test_origin();
    let mut bucket = (10.0, t0);
    let mut sent = Vec::new();
    let mut at = t0;
    let rejected = loop {
        if !serve(&mut bucket, 50.0, 10.0, at) {
            break at;
        }
        sent.push((at, at + Duration::from_millis(2)));
        at += Duration::from_millis(15);
    };
    let (lo, hi) = fit(&sent, rejected, Some((t0, 10.0)), 10.0);
    assert!(lo <= 50.0 && 50.0 <= hi, "{lo}..{hi}");
    assert!(lo > 45.0 && hi < 56.0, "{lo}..{hi}");
}

#[test]
fn after_the_first_pause_a_429_slows_the_rate_without_pausing_everyone() {
    let t0 = crate::core::test_origin();
    let mut p = Pacer::new(Pacing::default(), 16);
    let mut bucket = (10.0, t0);
    let mut now = t0;
    let mut throttles = 0;
    let mut lone = 0;
    // Requests as fast as the pacer lets them go, each answered at once.
    for _ in 0..600 {
        let ticket = loop {
            match p.admit(now) {
                Admission::Go(t) => break t,
                Admission::WaitUntil(at) => now = at,
                Admission::WaitForAnswer => unreachable!("answered at once"),
            }
        };
        now += Duration::from_millis(1);
        if serve(&mut bucket, 50.0, 10.0, now) {
            p.on_answer(ticket, Outcome::Ok, now);
        } else {
            throttles += 1;
            p.on_answer(
                ticket,
                Outcome::Throttled {
                    retry_after: Some(Duration::from_secs(1)),
                },
                now,
            );
            if throttles > 1 {
                // Once a rate is known, only the throttled request waits.
                assert_eq!(p.poll_timeout(), None, "a lone 429 paused everyone");
                lone += 1;
            } else {
                assert_eq!(p.poll_timeout(), Some(now + Duration::from_secs(1)));
            }
        }
    }
    assert!(lone >= 1, "a second 429 came and measured the rate");
    assert!(throttles <= 6, "{throttles} 429s");
    assert_eq!(p.stats().throttled, Duration::from_secs(1));
    let rate = p.learnt_rate().expect("a rate was learnt");
    assert!((47.0..=52.0).contains(&rate), "{rate}");
    // 600 requests at 50/s with a burst of 10 and one pause of 1 s: 12.8 s.
    let took = (now - t0).as_secs_f64();
    assert!(took < 13.5, "{took}");
}

#[test]
fn without_adaptive_pacing_a_429_pauses_everyone_and_nothing_is_learnt() {
    let t0 = crate::core::test_origin();
    let mut p = Pacer::new(Pacing::default().adaptive(false), 4);
    for i in 0..3u64 {
        let now = t0 + Duration::from_secs(2 * i);
        let t = go(&mut p, now);
        p.on_answer(
            t,
            Outcome::Throttled {
                retry_after: Some(Duration::from_secs(1)),
            },
            now,
        );
        assert_eq!(p.poll_timeout(), Some(now + Duration::from_secs(1)));
    }
    assert_eq!(p.learnt_rate(), None);
    assert_eq!(p.concurrency(), 4);
}

/// The states of the module docs, in turn: Open, Full, Spaced, Paused, Open.
#[test]
fn the_states_in_turn() {
    let t0 = crate::core::test_origin();
    let mut p = Pacer::new(Pacing::default().rate_limit(10.0, 2), 2);
    // Open.
    let a = go(&mut p, t0);
    let b = go(&mut p, t0);
    // Full: the concurrency of 2 is reached.
    assert_eq!(p.admit(t0), Admission::WaitForAnswer);
    p.on_answer(a, Outcome::Ok, t0);
    // Spaced: the burst of 2 is spent; the next token comes in 100 ms.
    assert!(matches!(p.admit(t0), Admission::WaitUntil(at) if at > t0));
    let t1 = t0 + Duration::from_millis(100);
    let c = go(&mut p, t1);
    // Paused: a 429 holds every request back for its Retry-After.
    let retry_after = Some(Duration::from_secs(1));
    p.on_answer(b, Outcome::Throttled { retry_after }, t1);
    let until = match p.admit(t1) {
        Admission::WaitUntil(at) => at,
        other => panic!("{other:?}"),
    };
    assert!(until >= t1 + Duration::from_secs(1), "{:?}", until - t1);
    p.on_answer(c, Outcome::Ok, t1);
    // Open again once the cooldown ends.
    go(&mut p, until);
    assert_eq!(p.stats().throttles, 1);
}
