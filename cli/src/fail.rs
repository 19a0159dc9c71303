//! How the command fails: a message and an exit code.

use std::fmt;

/// Exit code: the job completed.
pub const OK: i32 = 0;
/// Exit code: the job failed (the API, the network, a file).
pub const FAILED: i32 = 1;
/// Exit code: usage or configuration (clap's own errors exit 2 too).
pub const USAGE: i32 = 2;
/// Exit code: the job ended, but the API's total says rows are missing.
pub const INCOMPLETE: i32 = 3;
/// Exit code: interrupted (Ctrl-C); the state, if any, is saved.
pub const INTERRUPTED: i32 = 130;

/// A failure of the command: what to print and the exit code.
#[derive(Debug)]
pub struct Fail {
    /// The exit code.
    pub code: i32,
    /// What went wrong (never a credential).
    pub message: String,
}

/// The command's results.
pub type Result<T> = std::result::Result<T, Fail>;

impl Fail {
    /// A usage or configuration error (exit 2).
    pub fn usage(message: String) -> Fail {
        Fail {
            code: USAGE,
            message,
        }
    }

    /// A failure (exit 1).
    pub fn failed(message: String) -> Fail {
        Fail {
            code: FAILED,
            message,
        }
    }

    /// An I/O error on a file, naming it (exit 1).
    pub fn io(what: &str, path: &std::path::Path, e: std::io::Error) -> Fail {
        Fail::failed(format!("{what} {}: {e}", path.display()))
    }
}

impl From<pagewise::Error> for Fail {
    fn from(e: pagewise::Error) -> Fail {
        let code = match e.kind() {
            pagewise::ErrorKind::Config | pagewise::ErrorKind::Url => USAGE,
            _ => FAILED,
        };
        Fail {
            code,
            message: e.to_string(),
        }
    }
}

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
