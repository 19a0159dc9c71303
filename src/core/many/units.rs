//! Units: the groups of items sent in one request (one item, or a batch),
//! each in its state.

#[derive(Debug)]
pub(super) enum UnitState {
    Queued,
    InFlight,
    Waiting,
}

#[derive(Debug)]
pub(super) struct Unit {
    pub(super) indices: Vec<usize>,
    pub(super) state: UnitState,
    pub(super) retries: u32,
    pub(super) key: Option<String>,
    pub(super) url: String,
    /// The method it was last sent with (for retry events).
    pub(super) method: &'static str,
}

/// The units of a job by id. Ids are handed out in sequence from 0 and
/// units end roughly in that order, so a queue from the oldest live unit
/// does (smaller in WebAssembly than a `HashMap`, and as long as the units
/// alive at once, not as all the job's units).
#[derive(Default)]
pub(super) struct Units {
    /// The id of `by_id[0]`.
    base: u64,
    pub(super) by_id: std::collections::VecDeque<Option<Unit>>,
    live: usize,
}

impl Units {
    pub(super) fn insert(&mut self, id: u64, unit: Unit) {
        if self.by_id.is_empty() {
            self.base = id;
        }
        let Some(i) = id.checked_sub(self.base).map(|i| i as usize) else {
            return;
        };
        if self.by_id.len() <= i {
            self.by_id.resize_with(i + 1, || None);
        }
        if self.by_id[i].replace(unit).is_none() {
            self.live += 1;
        }
    }

    #[cfg(test)]
    pub(super) fn get(&self, id: u64) -> Option<&Unit> {
        let i = id.checked_sub(self.base)? as usize;
        self.by_id.get(i)?.as_ref()
    }

    pub(super) fn get_mut(&mut self, id: u64) -> Option<&mut Unit> {
        let i = id.checked_sub(self.base)? as usize;
        self.by_id.get_mut(i)?.as_mut()
    }

    pub(super) fn remove(&mut self, id: u64) -> Option<Unit> {
        let i = id.checked_sub(self.base)? as usize;
        let unit = self.by_id.get_mut(i)?.take()?;
        self.live -= 1;
        while let Some(None) = self.by_id.front() {
            self.by_id.pop_front();
            self.base += 1;
        }
        Some(unit)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.live == 0
    }
}
