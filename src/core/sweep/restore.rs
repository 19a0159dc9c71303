//! A sweep's checkpoint, and a sweep resumed from one.

use super::*;

impl Sweep {
    /// Where the sweep is: every page not yet handed out, what it learnt,
    /// its counters. Resume with [`ListOptions::resume`](crate::ListOptions::resume).
    pub fn checkpoint(&self) -> Checkpoint {
        let pending_page = |key: &Key, target: &Target, skip: u64| PendingPage {
            seq: key.0,
            sub: key.1,
            page: self.page_ref(target),
            skip,
        };
        let mut pending: Vec<PendingPage> = self
            .slots
            .iter()
            .map(|(k, slot)| pending_page(k, &slot.target, slot.skip))
            .collect();
        // Pages a failure dropped before they were handed out.
        for (key, target, skip) in &self.abandoned {
            insert_sorted(&mut pending, pending_page(key, target, *skip), false);
        }
        // Pages waiting in the event queue have not reached the caller yet.
        let (mut queued_records, mut queued_pages) = (0, 0);
        for ev in &self.events {
            if let Event::Page(p) = ev {
                if let Some((key, target, skip)) = &p.origin {
                    insert_sorted(&mut pending, pending_page(key, target, *skip), false);
                    queued_records += p.records.len() as u64;
                    queued_pages += 1;
                }
            }
        }
        Checkpoint {
            version: Checkpoint::VERSION,
            collection: self.collection_shown.clone(),
            dialect: self.spec.pagination.name().to_string(),
            pending,
            learnt: Learnt {
                total: self.total,
                effective_size: self.effective_size,
                fanned_out: self.fanned_out,
                planned_end: self.planned_end,
                largest_page: self.largest_page,
                next_seq: self.next_seq,
                seen: self.recent.iter().cloned().collect(),
                stopped: self.stopped,
            },
            done: Done {
                records: self.report.records - queued_records,
                pages: self.report.pages - queued_pages,
                requests: self.report.requests,
                retries: self.report.retries.clone(),
                throttled_ms: self.report.throttled.as_millis() as u64,
                dropped: self.dropped,
            },
            since: self.delta.as_ref().map(|d| d.from().clone()),
            reached: self.delta.as_ref().map(|d| d.reached().clone()),
        }
    }

    /// A checkpoint in which a page already handed out is not finished: its
    /// first `consumed` records were, the rest will be fetched again.
    pub(crate) fn checkpoint_with_partial(&self, page: &RawPage, consumed: usize) -> Checkpoint {
        let mut c = self.checkpoint();
        if let Some((key, target, skip)) = &page.origin {
            let left = page.records.len().saturating_sub(consumed) as u64;
            if left > 0 {
                insert_sorted(
                    &mut c.pending,
                    PendingPage {
                        seq: key.0,
                        sub: key.1,
                        page: self.page_ref(target),
                        skip: skip + consumed as u64,
                    },
                    true,
                );
                c.done.records -= left;
                c.done.pages -= 1;
            }
        }
        c
    }

    pub(super) fn page_ref(&self, target: &Target) -> PageRef {
        match target {
            Target::Offset { offset, limit } => PageRef::Offset {
                offset: *offset,
                limit: *limit,
            },
            Target::Page(n) => PageRef::Page { number: *n },
            Target::Cursor(c) => PageRef::Cursor { cursor: c.clone() },
            Target::Url(u) => PageRef::Url {
                url: self.spec.secrets.strip_url(u.as_str()),
            },
            Target::Keyset(v) => PageRef::Keyset { after: v.clone() },
        }
    }

    /// Replaces the fresh plan with the checkpoint's.
    pub(super) fn restore(&mut self, c: Checkpoint) -> Result<()> {
        let here = self.collection_shown.clone();
        let dialect = self.spec.pagination.name();
        if c.collection != here || c.dialect != dialect {
            return Err(Error::config(format!(
                "the checkpoint is for {} ({}), not for {here} ({dialect})",
                c.collection, c.dialect
            )));
        }
        if let Some(t) = c.learnt.total.filter(|t| *t > self.max_total) {
            return Err(Error::new(
                ErrorKind::Limit,
                format!("the checkpoint's total: {}", too_large(t, self.max_total)),
            )
            .with_url(self.spec.redact(self.collection.as_str())));
        }
        let first_page = match &self.spec.pagination {
            Pagination::PageNumber(p) => p.first_page,
            _ => 0,
        };
        let bad = |what: String| Error::config(format!("a bad checkpoint: {what}"));
        self.slots.clear();
        for p in c.pending {
            let target = match p.page {
                PageRef::Offset { offset, limit } => Target::Offset { offset, limit },
                PageRef::Page { number } if number < first_page => {
                    return Err(bad(format!(
                        "page {number} is before the first page, {first_page}"
                    )))
                }
                PageRef::Page { number } => Target::Page(number),
                PageRef::Cursor { cursor } => Target::Cursor(cursor),
                PageRef::Url { url } => {
                    let url = Url::parse(&url).map_err(|e| {
                        Error::new(
                            ErrorKind::Url,
                            format!("bad page URL in the checkpoint: {e}"),
                        )
                    })?;
                    self.spec.check_link(&url, "page URL in the checkpoint")?;
                    Target::Url(url)
                }
                PageRef::Keyset { after } => Target::Keyset(after),
            };
            let mut slot = Slot::new(target);
            slot.skip = p.skip;
            self.slots.insert((p.seq, p.sub), slot);
        }
        let l = c.learnt;
        self.total = l.total;
        self.report.total = l.total;
        self.effective_size = l.effective_size.max(1);
        self.fanned_out = l.fanned_out;
        self.planned_end = l.planned_end;
        self.largest_page = l.largest_page;
        self.next_seq = l.next_seq;
        self.stopped = l.stopped;
        if self.fanned_out && first_page > self.planned_end {
            return Err(bad(format!(
                "planned_end {} is before the first page, {first_page}",
                self.planned_end
            )));
        }
        self.seen = l.seen.iter().map(|v| seen_digest(v)).collect();
        self.recent.clear();
        for v in l.seen {
            remember(&mut self.recent, v);
        }
        // Pages still to fetch will announce their links again: those are not loops.
        for (_, slot) in self.slots.iter() {
            match &slot.target {
                Target::Cursor(Some(v)) | Target::Keyset(Some(v)) => {
                    self.seen.remove(&seen_digest(v));
                    self.recent.retain(|r| r != v);
                }
                Target::Url(u) => {
                    self.seen.remove(&seen_digest(u.as_str()));
                    self.recent.retain(|r| r != u.as_str());
                }
                _ => {}
            }
        }
        let d = c.done;
        self.report.records = d.records;
        self.report.pages = d.pages;
        self.report.requests = d.requests;
        self.report.retries = d.retries;
        self.report.throttled = Duration::from_millis(d.throttled_ms);
        self.dropped = d.dropped;
        if let (Some(delta), Some(w)) = (self.delta.as_mut(), c.reached) {
            delta.set_reached(w);
        }
        Ok(())
    }
}
