//! The one fatal error of the command line and setup: a line for the user and the
//! exit code ucarp uses for it (docs/PROTOCOL.md §1.1): 1 for a command line that cannot be
//! used, 2 for a protocol setup failure. Never a panic, never a backtrace.

use std::fmt;

/// A fatal error: one line, and its exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// What is wrong, worded as ucarp words it where ucarp has a message.
    pub message: String,
    /// The process exit code.
    pub exit_code: u8,
}

impl Error {
    /// A command line that cannot be used: exit code 1, as in ucarp.
    pub(crate) fn usage(message: impl Into<String>) -> Error {
        Error {
            message: message.into(),
            exit_code: 1,
        }
    }

    /// A protocol setup failure: exit code 2, as in ucarp.
    pub(crate) fn setup(message: impl Into<String>) -> Error {
        Error {
            message: message.into(),
            exit_code: 2,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}
