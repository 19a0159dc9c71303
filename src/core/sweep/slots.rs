//! The plan: the pages a sweep has planned, by key, each in its state.

use super::*;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    Offset { offset: u64, limit: u64 },
    Page(u64),
    Cursor(Option<String>),
    Url(Url),
    Keyset(Option<String>),
}

#[derive(Debug)]
pub(super) enum SlotState {
    Queued,
    InFlight,
    /// Failed transiently; queued again at this instant.
    Waiting,
    Done(Records),
}

#[derive(Debug)]
pub(super) struct Slot {
    pub(super) target: Target,
    pub(super) state: SlotState,
    pub(super) redirects: u8,
    /// Where a redirect sent this page.
    pub(super) redirected_to: Option<Url>,
    /// The URL last requested for this page.
    pub(super) sent: Option<Url>,
    /// Retries so far.
    pub(super) retries: u32,
    /// Records at the start of the page to leave out (handed out before a checkpoint).
    pub(super) skip: u64,
}

/// Pages are ordered by (planned position, gap-fill number): a gap fill of
/// page 7 is (7, 1) and sorts between (7, 0) and (8, 0).
pub(crate) type Key = (u64, u32);

/// The planned pages by key: a deque kept sorted. Pages are planned at the
/// back and handed out at the front, so that is where it changes; a gap fill
/// goes in the middle. (A `BTreeMap` here costs about 30 KB of WebAssembly.)
#[derive(Default)]
pub(super) struct Slots(VecDeque<(Key, Slot)>);

impl Slots {
    pub(super) fn find(&self, key: &Key) -> std::result::Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.cmp(key))
    }

    pub(super) fn get(&self, key: &Key) -> Option<&Slot> {
        self.find(key).ok().map(|i| &self.0[i].1)
    }

    pub(super) fn get_mut(&mut self, key: &Key) -> Option<&mut Slot> {
        self.find(key).ok().map(|i| &mut self.0[i].1)
    }

    pub(super) fn contains_key(&self, key: &Key) -> bool {
        self.find(key).is_ok()
    }

    /// Puts `slot` at `key`, replacing the slot there.
    pub(super) fn insert(&mut self, key: Key, slot: Slot) {
        match self.find(&key) {
            Ok(i) => self.0[i].1 = slot,
            Err(i) => self.0.insert(i, (key, slot)),
        }
    }

    /// Puts `slot` at `key` unless a slot is there.
    pub(super) fn insert_new(&mut self, key: Key, slot: Slot) {
        if let Err(i) = self.find(&key) {
            self.0.insert(i, (key, slot));
        }
    }

    pub(super) fn remove(&mut self, key: &Key) -> Option<Slot> {
        let i = self.find(key).ok()?;
        self.0.remove(i).map(|(_, s)| s)
    }

    /// Removes the slots at `key` and after it.
    pub(super) fn split_off(&mut self, key: &Key) -> VecDeque<(Key, Slot)> {
        let i = self.find(key).unwrap_or_else(|i| i);
        self.0.split_off(i)
    }

    pub(super) fn first(&self) -> Option<&(Key, Slot)> {
        self.0.front()
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &(Key, Slot)> {
        self.0.iter()
    }

    pub(super) fn len(&self) -> usize {
        self.0.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(super) fn clear(&mut self) {
        self.0.clear();
    }
}

impl std::ops::Index<&Key> for Slots {
    type Output = Slot;

    fn index(&self, key: &Key) -> &Slot {
        self.get(key).expect("the slot exists")
    }
}

impl Slot {
    pub(super) fn new(target: Target) -> Self {
        Slot {
            target,
            state: SlotState::Queued,
            redirects: 0,
            redirected_to: None,
            sent: None,
            retries: 0,
            skip: 0,
        }
    }
}
