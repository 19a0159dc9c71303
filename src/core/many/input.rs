//! The input of a job, read as the job goes: an iterator of items (ids or
//! records), of which only those between the oldest not handed out and the
//! newest read are kept. Memory stays bounded by the job's window, not by
//! the input's length.

use std::collections::VecDeque;

use crate::error::{Error, ErrorKind, Result};

/// Items of a job's input, read on demand and forgotten once handed out.
pub(super) struct Input<'i, T> {
    source: Box<dyn Iterator<Item = Result<T>> + Send + 'i>,
    /// The index of `items[0]`.
    base: usize,
    items: VecDeque<Option<Result<T>>>,
    /// Items read so far.
    read: usize,
    /// The input's length, when it says so exactly up front.
    pub(super) total: Option<usize>,
}

impl<'i, T> Input<'i, T> {
    pub(super) fn new(source: impl Iterator<Item = Result<T>> + Send + 'i) -> Self {
        let total = match source.size_hint() {
            (lo, Some(hi)) if lo == hi => Some(lo),
            _ => None,
        };
        Input {
            source: Box::new(source),
            base: 0,
            items: VecDeque::new(),
            read: 0,
            total,
        }
    }

    /// Reads the next item: its index, or `None` at the end of the input.
    pub(super) fn pull(&mut self) -> Option<usize> {
        let item = self.source.next()?;
        let i = self.read;
        self.read += 1;
        if self.items.is_empty() {
            self.base = i;
        }
        self.items.push_back(Some(item));
        Some(i)
    }

    /// Item `i`, if it was read, is still kept and is not an error.
    pub(super) fn get(&self, i: usize) -> Result<&T> {
        match i
            .checked_sub(self.base)
            .and_then(|k| self.items.get(k))
            .and_then(Option::as_ref)
        {
            Some(Ok(item)) => Ok(item),
            Some(Err(e)) => Err(e.clone()),
            None => Err(Error::new(
                ErrorKind::Transport,
                format!("internal error: item {i} of the input is not kept"),
            )),
        }
    }

    /// The error item `i` of the input is, if it is one.
    pub(super) fn error(&self, i: usize) -> Option<Error> {
        match i.checked_sub(self.base).and_then(|k| self.items.get(k)) {
            Some(Some(Err(e))) => Some(e.clone()),
            _ => None,
        }
    }

    /// Forgets item `i`.
    pub(super) fn release(&mut self, i: usize) {
        if let Some(slot) = i.checked_sub(self.base).and_then(|k| self.items.get_mut(k)) {
            *slot = None;
        }
        while let Some(None) = self.items.front() {
            self.items.pop_front();
            self.base += 1;
        }
    }
}
