//! Many independent items, each with its own result: fetching records by id
//! and writing records, one request per item or in batches. One engine,
//! two public machines: [`FetchMany`] and [`WriteJob`].

mod engine;
mod fetch;
mod kind;
mod options;
mod report;
mod units;
mod write;

pub use self::fetch::FetchMany;
pub use self::options::{BatchLookup, BatchWrite, ManyOptions, WriteOp, WriteOptions};
pub use self::report::{ItemEvent, ManyEvent, ManyProgress, ManyReport, Written};
pub use self::write::WriteJob;
