//! The files a command line names: the `-o` password file (read as ucarp does) and
//! the scripts (checked to be executable before the daemon starts). The only I/O of
//! the configuration.

use std::ffi::OsStr;
use std::io::Read;
use std::path::Path;

use super::number::text;
use super::{ConfigError, MAX_PASSFILE_LINE};

/// Returns a warning when the password file can be read by group or others.
pub(super) fn passfile_exposure(path: &OsStr) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o077 != 0).then(|| {
        format!(
            "Password file {} is readable by group or others (mode {:o}): chmod 600 it",
            text(path),
            mode & 0o777
        )
    })
}

/// Checks that a script exists and is executable, as it will be run: relative paths
/// against `base` when given (the working directory once detached).
pub(super) fn executable(what: &str, path: &Path, base: Option<&Path>) -> Result<(), ConfigError> {
    use std::os::unix::fs::PermissionsExt;
    let full = match base {
        Some(b) if path.is_relative() => b.join(path),
        _ => path.to_path_buf(),
    };
    let problem = match std::fs::metadata(&full) {
        Err(e) => Some(e.to_string()),
        Ok(m) if !m.is_file() => Some("not a regular file".to_string()),
        Ok(m) if m.permissions().mode() & 0o111 == 0 => Some("not executable".to_string()),
        Ok(_) => None,
    };
    match problem {
        None => Ok(()),
        Some(why) => Err(ConfigError::usage(format!(
            "{what} [{}] cannot be run: {why}",
            path.display()
        ))),
    }
}

/// Reads the password from the first line of a file, as ucarp's `-o` does: at most
/// [`MAX_PASSFILE_LINE`] bytes, only the first `\n` removed (a `\r` stays in the key).
pub(super) fn read_passfile(path: &OsStr) -> Result<Vec<u8>, ConfigError> {
    let shown = text(path);
    let file = std::fs::File::open(path).map_err(|e| {
        ConfigError::usage(format!("unable to open passfile {shown} for reading: {e}"))
    })?;
    let file = std::io::BufReader::new(file);
    let mut line = Vec::with_capacity(64);
    for byte in file.take(MAX_PASSFILE_LINE as u64).bytes() {
        let byte =
            byte.map_err(|e| ConfigError::usage(format!("error reading passfile {shown}: {e}")))?;
        line.push(byte);
        if byte == b'\n' {
            break;
        }
    }
    if line.is_empty() {
        return Err(ConfigError::usage(format!(
            "error reading passfile {shown}: unexpected end of file"
        )));
    }
    if line.last() == Some(&b'\n') {
        line.pop();
    }
    // ucarp copies the line with strdup(): a NUL byte ends the password.
    if let Some(nul) = line.iter().position(|&b| b == 0) {
        line.truncate(nul);
    }
    Ok(line)
}
