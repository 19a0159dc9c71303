//! Planning: what comes after a page, and the pages up to the total.

use super::*;

impl Sweep {
    /// Reads the total and notes changes; `None` when the dialect has no total
    /// configured or the answer lacks it.
    pub(super) fn read_total(
        &mut self,
        key: Key,
        body: &Body<'_>,
        resp: &Response,
    ) -> std::result::Result<Option<u64>, Planned> {
        let Some(configured) = self.spec.pagination.total() else {
            return Ok(None);
        };
        let optional = configured.is_optional();
        let found = match configured.source() {
            Total::Header(h) => match resp.header(h) {
                Some(v) => Some(v.trim().parse::<u64>().map_err(|_| {
                    Planned::Decode(DecodeError(format!("header {h} is not a count: {v:?}")))
                })?),
                None => None,
            },
            Total::Pointer(p) => match body.get(p).map_err(Planned::Decode)? {
                Some(v) => page::count(v).map_err(|e| {
                    Planned::Decode(DecodeError(format!("total at {p:?}: {}", e.0)))
                })?,
                None => None,
            },
            Total::ContentRange => resp
                .header("content-range")
                .and_then(page::content_range_total),
            Total::Optional(_) => unreachable!("source() unwraps"),
        };
        if let Some(t) = found.filter(|t| *t > self.max_total) {
            return Err(Planned::Error(self.page_error(
                key,
                ErrorKind::Limit,
                too_large(t, self.max_total),
            )));
        }
        match (found, self.total) {
            (None, _) => {
                if !optional && !self.total_missing_noted {
                    self.total_missing_noted = true;
                    self.notice(Notice::TotalMissing { page: key.0 });
                }
            }
            (Some(t), Some(old)) if t != old => {
                // Rows were added or removed under an offset or page-number
                // sweep: some may have shifted past the pages fetched, even
                // if the count ends up matching the new total.
                self.doubt = true;
                self.notice(Notice::TotalChanged {
                    from: old,
                    to: t,
                    page: key.0,
                });
                self.total = Some(t);
            }
            (Some(t), _) => self.total = Some(t),
        }
        self.report.total = self.total;
        Ok(found)
    }

    /// Decides what comes after the page at `key`: the pages to add to the plan.
    pub(super) fn plan(
        &mut self,
        key: Key,
        body: &Body<'_>,
        resp: &Response,
        raw: &str,
        ranges: &[std::ops::Range<usize>],
    ) -> std::result::Result<Vec<(Key, Target)>, Planned> {
        let n = ranges.len() as u64;
        let target = self.slots[&key].target.clone();
        let mut next = Vec::new();
        match target {
            Target::Offset { offset, limit } => {
                let total = self.read_total(key, body, resp)?;
                if self.fanned_out {
                    let total = self.total.unwrap_or(0);
                    if n < limit && offset.saturating_add(n) < total {
                        if n > 0 {
                            // Fetch the rest of this page's range: never skip rows.
                            next.push((
                                (key.0, key.1 + 1),
                                Target::Offset {
                                    offset: offset + n,
                                    limit: limit - n,
                                },
                            ));
                        }
                        self.notice(Notice::ShortPage {
                            page: key.0,
                            expected: limit,
                            got: n,
                        });
                        if n == 0 {
                            self.stop_planning();
                        }
                    }
                } else if let (Some(t), true) = (total, key == (0, 0)) {
                    self.fanned_out = true;
                    // A server that caps the page size below what we asked is detected here.
                    self.effective_size = if n > 0 && n < limit && t > n {
                        n
                    } else {
                        limit
                    };
                    self.planned_end = offset.saturating_add(n);
                    // The rest is planned as room frees up (`top_up`).
                    self.stopped = n == 0;
                } else if n > 0 && n >= self.largest_page {
                    next.push((
                        (key.0 + 1, 0),
                        Target::Offset {
                            offset: offset.saturating_add(n),
                            limit,
                        },
                    ));
                }
            }
            Target::Page(p) => {
                let total = self.read_total(key, body, resp)?;
                let first = match &self.spec.pagination {
                    Pagination::PageNumber(c) => c.first_page,
                    _ => unreachable!(),
                };
                if self.fanned_out {
                    let t = self.total.unwrap_or(0);
                    let before = p.saturating_sub(first).saturating_mul(self.effective_size);
                    if n < self.effective_size && before.saturating_add(n) < t {
                        self.notice(Notice::ShortPage {
                            page: key.0,
                            expected: self.effective_size,
                            got: n,
                        });
                        // The rows of a short page cannot be asked for again.
                        self.doubt = true;
                        if n == 0 {
                            self.stop_planning();
                        }
                    }
                } else if let (Some(t), true) = (total, key == (0, 0)) {
                    self.fanned_out = true;
                    let asked = self.page_size;
                    self.effective_size = if n > 0 && n < asked && t > n {
                        n
                    } else {
                        asked
                    };
                    self.planned_end = p.saturating_add(1);
                    self.stopped = n == 0;
                } else if n > 0 && n >= self.largest_page {
                    next.push(((key.0 + 1, 0), Target::Page(p.saturating_add(1))));
                }
            }
            Target::Cursor(_) => {
                let from = match &self.spec.pagination {
                    Pagination::Cursor(c) => c.from.clone(),
                    _ => unreachable!(),
                };
                self.read_total(key, body, resp)?;
                let more = self.read_more(body)?;
                let link = match more {
                    Some(false) => None,
                    _ => self.read_link(&from, body, resp)?,
                };
                if let Some(c) = link {
                    self.check_new(key, &c, &c, "cursor")?;
                    next.push(((key.0 + 1, 0), Target::Cursor(Some(c))));
                }
            }
            Target::Url(_) => {
                let from = match &self.spec.pagination {
                    Pagination::NextUrl(c) => c.from.clone(),
                    _ => unreachable!(),
                };
                self.read_total(key, body, resp)?;
                if let Some(link) = self.read_link(&from, body, resp)? {
                    let here = self.slots[&key].sent.clone().expect("sent");
                    let url = here.join(&link).map_err(|e| {
                        Planned::Error(self.page_error(
                            key,
                            ErrorKind::Url,
                            format!("bad next link {:?}: {e}", self.spec.redact(&link)),
                        ))
                    })?;
                    self.spec
                        .check_link(&url, &format!("next link of page {}", key.0))
                        .map_err(|e| Planned::Error(e.with_page(key.0)))?;
                    let shown = self.spec.redact_parsed(&url);
                    self.check_new(key, url.as_str(), &shown, "next URL")?;
                    next.push(((key.0 + 1, 0), Target::Url(url)));
                }
            }
            Target::Keyset(_) => {
                let field = match &self.spec.pagination {
                    Pagination::Keyset(k) => k.field.clone(),
                    _ => unreachable!(),
                };
                self.read_total(key, body, resp)?;
                // `has_more: false` ends the sweep, even after a full page;
                // `true` goes on, even after a short one.
                let more = self.read_more(body)?;
                if more == Some(false) {
                    // Nothing follows.
                } else if let Some(last) = ranges.last() {
                    let ptr = if field.starts_with('/') {
                        field.clone()
                    } else {
                        format!("/{field}")
                    };
                    let last = raw.get(last.clone()).unwrap_or_default();
                    let value = page::find(last, &ptr)
                        .map_err(Planned::Decode)?
                        .map(page::scalar_text)
                        .transpose()
                        .map_err(|e| {
                            Planned::Decode(DecodeError(format!("keyset field {field:?}: {}", e.0)))
                        })?
                        .flatten()
                        .ok_or_else(|| {
                            Planned::Decode(DecodeError(format!(
                                "the last record of the page has no keyset field {field:?}"
                            )))
                        })?;
                    self.check_new(key, &value, &value, "keyset value")?;
                    if more == Some(true) || n >= self.largest_page {
                        next.push(((key.0 + 1, 0), Target::Keyset(Some(value))));
                    }
                }
            }
        }
        self.largest_page = self.largest_page.max(n);
        for (k, _) in &next {
            self.next_seq = self.next_seq.max(k.0 + 1);
        }
        Ok(next)
    }

    /// Plans the next pages of a fanned-out sweep (up to the total), as many
    /// as keep `2 * (concurrency + window)` planned (more while pages wait
    /// out a retry: as many as the stretched window holds, see
    /// `retry_stretch`): enough that a page is always there to send when the
    /// window has room, so pages go in the order an
    /// all-at-once plan would send them, while memory stays bounded by the
    /// configuration whatever total the API announces.
    pub(super) fn top_up(&mut self) {
        if self.state != State::Running
            || !self.fanned_out
            || self.stopped
            || self.failing.is_some()
        {
            return;
        }
        let room = self
            .concurrency
            .saturating_add(self.window)
            .saturating_mul(self.retry_stretch(false).max(2));
        while self.slots.len() < room {
            let target = match (&self.spec.pagination, self.total) {
                (Pagination::Offset(_), Some(total)) if self.planned_end < total => {
                    let t = Target::Offset {
                        offset: self.planned_end,
                        limit: self.effective_size,
                    };
                    self.planned_end = self.planned_end.saturating_add(self.effective_size);
                    t
                }
                (Pagination::PageNumber(c), Some(total))
                    if self.planned_end
                        < Self::page_end(c.first_page, total, self.effective_size) =>
                {
                    let t = Target::Page(self.planned_end);
                    self.planned_end += 1;
                    t
                }
                _ => break,
            };
            let seq = self.next_seq;
            self.next_seq = self.next_seq.saturating_add(1);
            self.slots.insert_new((seq, 0), Slot::new(target));
        }
    }

    /// The page number after the last one of a collection of `total` records.
    pub(super) fn page_end(first: u64, total: u64, size: u64) -> u64 {
        first.saturating_add(total.div_ceil(size.max(1)))
    }

    /// Pages of a fanned-out sweep not planned yet.
    pub(super) fn unplanned_pages(&self) -> u64 {
        if !self.fanned_out || self.stopped || self.state != State::Running {
            return 0;
        }
        let size = self.effective_size.max(1);
        match (&self.spec.pagination, self.total) {
            (Pagination::Offset(_), Some(t)) => t.saturating_sub(self.planned_end).div_ceil(size),
            (Pagination::PageNumber(c), Some(t)) => {
                Self::page_end(c.first_page, t, size).saturating_sub(self.planned_end)
            }
            _ => 0,
        }
    }

    /// An empty page came back before the total: the collection ends there.
    pub(super) fn stop_planning(&mut self) {
        self.stopped = true;
        self.doubt = true;
    }

    /// The "more pages follow" boolean of a page, when the dialect has a
    /// pointer to one: `None` when it has none, or the member is absent or
    /// `null` (the dialect's own rule then decides).
    pub(super) fn read_more(&self, body: &Body<'_>) -> std::result::Result<Option<bool>, Planned> {
        let Some(p) = self.spec.pagination.more() else {
            return Ok(None);
        };
        match body.get(p).map_err(Planned::Decode)? {
            None => Ok(None),
            Some(b"true") => Ok(Some(true)),
            Some(b"false") => Ok(Some(false)),
            Some(b"null") => Ok(None),
            Some(v) => Err(Planned::Decode(DecodeError(format!(
                "the \"more pages\" member at {p:?} is not a boolean: {}",
                crate::error::excerpt(v)
            )))),
        }
    }

    pub(super) fn read_link(
        &self,
        from: &Link,
        body: &Body<'_>,
        resp: &Response,
    ) -> std::result::Result<Option<String>, Planned> {
        let value = match from {
            Link::Pointer(p) => match body.get(p).map_err(Planned::Decode)? {
                Some(v) => page::scalar_text(v)
                    .map_err(|e| Planned::Decode(DecodeError(format!("link at {p:?}: {}", e.0))))?,
                None => None,
            },
            Link::Header(h) => resp.header(h).map(str::to_string),
            Link::LinkHeader => page::link_next(resp.headers_named("link")),
        };
        Ok(value
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty()))
    }

    /// `shown` is `value` as the error message may print it (credentials removed).
    pub(super) fn check_new(
        &mut self,
        key: Key,
        value: &str,
        shown: &str,
        what: &str,
    ) -> std::result::Result<(), Planned> {
        if value.len() > MAX_LINK_LEN {
            return Err(Planned::Error(self.page_error(
                key,
                ErrorKind::Limit,
                format!(
                    "the API sent a {what} of {} bytes ({}), more than the {MAX_LINK_LEN} \
                     accepted",
                    value.len(),
                    short(shown)
                ),
            )));
        }
        if self.seen.insert(seen_digest(value)) {
            remember(&mut self.recent, self.spec.secrets.strip_url(value));
            Ok(())
        } else {
            Err(Planned::Error(self.page_error(
                key,
                ErrorKind::Loop,
                format!(
                    "the API sent the same {what} twice ({}); following it would repeat pages",
                    short(shown)
                ),
            )))
        }
    }
}
