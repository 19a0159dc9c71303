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
}

/// The units of a job by id. Ids are handed out in sequence from 0, so a
/// list indexed by id does (smaller in WebAssembly than a `HashMap`).
#[derive(Default)]
pub(super) struct Units {
    pub(super) by_id: Vec<Option<Unit>>,
    live: usize,
}

impl Units {
    pub(super) fn insert(&mut self, id: u64, unit: Unit) {
        let i = id as usize;
        if self.by_id.len() <= i {
            self.by_id.resize_with(i + 1, || None);
        }
        if self.by_id[i].replace(unit).is_none() {
            self.live += 1;
        }
    }

    pub(super) fn get_mut(&mut self, id: u64) -> Option<&mut Unit> {
        self.by_id.get_mut(id as usize)?.as_mut()
    }

    pub(super) fn remove(&mut self, id: u64) -> Option<Unit> {
        let unit = self.by_id.get_mut(id as usize)?.take()?;
        self.live -= 1;
        Some(unit)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.live == 0
    }
}
