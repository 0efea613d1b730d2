//! Child processes: the up/down scripts ([`crate::hooks`]) and the health check
//! ([`crate::check`]) are started, and killed, the same way, here.
//!
//! Like ucarp, a program is executed directly (execve, not execvp): no shell, no PATH
//! search, a bare name is relative to the working directory, and `argv[0]` is the path
//! as given. Unlike ucarp, each child leads its own process group, so that a timeout
//! reaches whatever the script started too. Nothing here waits for a child: the callers
//! reap on SIGCHLD.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

/// A command for `path`, in a process group of its own; the caller adds arguments,
/// environment and stdio, then spawns it.
pub fn command(path: &Path) -> Command {
    let program = if path.as_os_str().as_encoded_bytes().contains(&b'/') {
        path.to_path_buf()
    } else {
        Path::new(".").join(path)
    };
    let mut cmd = Command::new(program);
    cmd.arg0(path).process_group(0);
    cmd
}

/// Sends `signal` to the process group that `child` leads (see [`command`]). A group
/// already gone is no error: it may have exited since.
pub fn signal_group(child: &Child, signal: Signal) {
    let pgid = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
    let _ = killpg(pgid, signal);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_name_is_relative_to_the_working_directory() {
        let cmd = command(Path::new("up.sh"));
        assert_eq!(cmd.get_program(), "./up.sh");
        let cmd = command(Path::new("/bin/true"));
        assert_eq!(cmd.get_program(), "/bin/true");
    }
}
