//! The state file of `--state`: where a pull got to, written atomically
//! (a temporary file beside it, then a rename) after each flushed page and
//! on Ctrl-C. It holds no credential: the command's digest, the sweep's
//! checkpoint, the output's path, bytes and records, the CSV columns and
//! the delta watermark.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::fail::{Fail, Result};

/// The state file's format version.
pub const VERSION: u32 = 1;

/// The output as the state file records it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutputState {
    /// The output file.
    pub path: PathBuf,
    /// Its length at the checkpoint.
    pub bytes: u64,
    /// Records in it at the checkpoint.
    pub records: u64,
    /// CSV columns, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<Vec<String>>,
}

/// The state file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    /// [`VERSION`].
    pub version: u32,
    /// A digest of the command (target, options, format): a resume with
    /// another command is refused.
    pub command: String,
    /// The sweep's checkpoint (`null` once it finished).
    pub checkpoint: Option<serde_json::Value>,
    /// `true` once the pull ended (a new run starts over, from the watermark if any).
    #[serde(default)]
    pub finished: bool,
    /// The output.
    pub output: OutputState,
    /// Where the next delta pull starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watermark: Option<pagewise::Watermark>,
}

impl State {
    /// Reads the state file, `None` when there is none.
    pub fn read(path: &Path) -> Result<Option<State>> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Fail::io("cannot read the state file", path, e)),
        };
        let state: State = serde_json::from_str(&text).map_err(|e| {
            Fail::usage(format!(
                "the state file {} does not read: {e}",
                path.display()
            ))
        })?;
        if state.version != VERSION {
            return Err(Fail::usage(format!(
                "the state file {} has version {}, this pagewise reads {VERSION}",
                path.display(),
                state.version
            )));
        }
        Ok(Some(state))
    }

    /// Writes the state file atomically: a temporary file beside it, then a
    /// rename. `durable`: the temporary file is on disk before the rename
    /// (for the last state of a pull, which a crash must not leave empty).
    pub fn write(&self, path: &Path, durable: bool) -> Result<()> {
        use std::io::Write;
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| Fail::failed(format!("the state does not serialize: {e}")))?;
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let written = std::fs::File::create(&tmp).and_then(|mut f| {
            f.write_all(text.as_bytes())?;
            if durable {
                f.sync_all()?;
            }
            Ok(())
        });
        written.map_err(|e| Fail::io("cannot write the state file", &tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Fail::io("cannot replace the state file", path, e))
    }
}

/// A digest of the command's text (FNV-1a, 64 bits, as hex): enough to
/// tell two commands apart, and it keeps the options out of the state file.
pub fn digest(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}
