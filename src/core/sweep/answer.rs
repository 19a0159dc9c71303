//! An answer to a page request: read, redirected, or failed and retried.

use super::*;

impl Sweep {
    pub(super) fn on_answer(
        &mut self,
        key: Key,
        response: std::result::Result<Response, TransportError>,
    ) -> std::result::Result<(), Fail> {
        let mut resp = match response {
            Ok(r) => r,
            Err(e) => {
                let (err, failure) = exchange::transport_failed(&e);
                return Err(Fail(self.on_page(key, err), failure));
            }
        };
        if let Some(loc) = exchange::redirect_location(&resp) {
            return self
                .redirect(key, loc.to_string(), resp.status)
                .map_err(|e| Fail(e, None));
        }
        if resp.status == 416
            && self.spec.pagination.range_header()
            && matches!(self.slots[&key].target, Target::Offset { .. })
        {
            // Range Not Satisfiable: the collection ends before this offset.
            self.range_past_end(key);
            return Ok(());
        }
        if !(200..300).contains(&resp.status) {
            let (err, failure) = exchange::status_failed(&resp, &self.retrier);
            return Err(Fail(self.on_page(key, err), failure));
        }
        // A 2xx that is not a page is a transient failure: retried, then an error.
        let status = resp.status;
        let decode = |this: &Self, body: &[u8], e: DecodeError| {
            Fail(
                this.page_error(key, ErrorKind::Decode, e.0)
                    .with_status(status)
                    .with_excerpt(body),
                Some(exchange::bad_body()),
            )
        };
        let attachment = resp.attachment.take();
        // The body is checked as UTF-8 once, whole, and kept as a `String`.
        let text = match String::from_utf8(std::mem::take(&mut resp.body)) {
            Ok(t) => t,
            Err(e) => {
                let why = DecodeError(format!("body is not UTF-8: {}", e.utf8_error()));
                return Err(decode(self, e.as_bytes(), why));
            }
        };
        let raw = text.as_bytes();
        let (ranges, next) = {
            let spec = self.spec.clone();
            // Rows past the range asked for belong to the next page: keeping
            // them would hand them out twice. They are not even noted (a page
            // of a million `0`s costs the body, not a range per element).
            let limit = match self.slots[&key].target {
                Target::Offset { limit, .. } => Some(limit),
                _ => None,
            };
            let keep = limit.map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
            let mut body = Body::parse_keeping(&text, &spec.records_at, keep)
                .map_err(|e| decode(self, raw, e))?;
            let mut ranges = body.records().map_err(|e| decode(self, raw, e))?;
            if let Some(limit) = limit {
                let got = body.record_count() as u64;
                if got > limit {
                    // The extra records belong to the next offset, asked for
                    // on its own: nothing is lost or repeated, so this alone
                    // does not cast doubt on `complete`.
                    self.notice(Notice::OversizedPage {
                        page: key.0,
                        asked: limit,
                        got,
                    });
                }
            }
            let next = self
                .plan(key, &body, &resp, &text, &ranges)
                .map_err(|e| match e {
                    Planned::Decode(d) => decode(self, raw, d),
                    Planned::Error(e) => Fail(e, None),
                })?;
            // Records parsed by the transport are not in `text` (a skeleton):
            // its digest of the body stands for theirs.
            let hash = match &attachment {
                Some(a) => a.digest(),
                None => Some(digest(&text, &ranges)),
            };
            self.check_repeat(key, hash, ranges.len())
                .map_err(|e| Fail(e, None))?;
            let skip = usize::try_from(self.slots[&key].skip)
                .unwrap_or(usize::MAX)
                .min(ranges.len());
            ranges.drain(..skip);
            if let Some(delta) = self.delta.as_mut() {
                let before = ranges.len();
                ranges.retain(|r| text.get(r.clone()).is_none_or(|t| delta.keep(t)));
                self.dropped += (before - ranges.len()) as u64;
            }
            (ranges, next)
        };
        self.report.bytes += attachment.as_ref().map_or(text.len(), |a| a.body_len()) as u64;
        for (k, target) in next {
            // Nothing past a page that failed for good is fetched any more.
            // A page already planned (after a resume, the re-fetched page before
            // it plans it again) keeps its slot and whatever state it is in.
            if self.failing.as_ref().is_none_or(|(f, _)| k < *f) {
                self.slots.insert_new(k, Slot::new(target));
            }
        }
        let slot = self.slots.get_mut(&key).expect("answered slot exists");
        slot.state = SlotState::Done(page::records(text, ranges, attachment));
        self.done_slots += 1;
        if self.order == Order::Completion {
            self.ready.push_back(key);
        }
        let buffered = self.buffered_pages();
        self.report.max_buffered_pages = self.report.max_buffered_pages.max(buffered);
        Ok(())
    }

    /// A `416` to a range request: an empty page, nothing planned after it.
    fn range_past_end(&mut self, key: Key) {
        if self.fanned_out {
            let expected = match self.slots[&key].target {
                Target::Offset { limit, .. } => limit,
                _ => 0,
            };
            self.notice(Notice::ShortPage {
                page: key.0,
                expected,
                got: 0,
            });
            self.stop_planning();
        }
        let slot = self.slots.get_mut(&key).expect("answered slot exists");
        slot.state = SlotState::Done(page::records(String::new(), Vec::new(), None));
        self.done_slots += 1;
        if self.order == Order::Completion {
            self.ready.push_back(key);
        }
    }

    /// Schedules the page again after a transient failure, or ends the sweep
    /// when the policy or the budget says no.
    pub(super) fn retry_or_fail(&mut self, key: Key, err: Error, failure: Failure, now: Instant) {
        let retries = self.slots[&key].retries;
        let err = match (err.url(), self.slots[&key].sent.as_ref()) {
            (None, Some(url)) => {
                let url = self.spec.redact_parsed(url);
                err.with_url(url)
            }
            _ => err,
        };
        let attempt = exchange::Attempt {
            observer: &self.spec.observer,
            method: "GET",
            err: &err,
        };
        // Pages are GETs: always safe to send again.
        match exchange::decide(
            &mut self.retrier,
            retries,
            Some(&failure),
            true,
            now,
            attempt,
        ) {
            Verdict::RetryAt(at) => {
                self.report.retries.add(failure.cause);
                if failure.cause == RetryCause::Throttled {
                    let from = self.throttled_until.map_or(now, |u| u.max(now));
                    if at > from {
                        self.report.throttled += at - from;
                        self.throttled_until = Some(at);
                    }
                }
                let slot = self.slots.get_mut(&key).expect("slot exists");
                slot.retries += 1;
                slot.state = SlotState::Waiting;
                self.waiting.push(Reverse((at, key)));
            }
            Verdict::GiveUp(why) => self.fail_at(key, exchange::gave_up(err, retries, why)),
            Verdict::NotReplayable | Verdict::Final => self.fail_at(key, err),
        }
    }

    pub(super) fn redirect(&mut self, key: Key, location: String, status: u16) -> Result<()> {
        let slot = &self.slots[&key];
        let from = slot.sent.as_ref().expect("a sent slot has a URL");
        let what = format!("redirect of page {}", key.0);
        let to = exchange::follow(
            &self.spec,
            from,
            &location,
            status,
            slot.redirects,
            Some(key.0),
            &what,
        )?;
        let slot = self.slots.get_mut(&key).expect("slot exists");
        slot.redirects += 1;
        slot.redirected_to = Some(to);
        slot.state = SlotState::Queued;
        Ok(())
    }
}
