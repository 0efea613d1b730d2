//! Child processes: the up/down scripts ([`crate::hooks`]) and the health check
//! ([`crate::check`]) are started, and killed, the same way, here.
//!
//! Like ucarp, a program is executed directly (execve, not execvp): no shell, no PATH
//! search, a bare name is relative to the working directory, and `argv[0]` is the path
//! as given. Unlike ucarp, each child leads its own process group, so that a timeout
//! reaches whatever the script started too. Nothing here waits for a child: the callers
//! reap on SIGCHLD.
//!
//! This process's own fate is here too: detaching for `-B` ([`daemonize`]) and dying of
//! a signal ([`die_of`]). Those two hold the crate's only `unsafe` outside [`crate::net`]
//! (the socket calls), [`crate::argv`] and [`crate::logger`]: a `fork` and a signal's
//! default disposition, which nix marks unsafe. They are process calls, not network ones,
//! so they live with the other process calls rather than in `net`.

use std::io;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitCode};

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

/// CAP_NET_ADMIN's bit in the kernel's capability sets: what `ip addr add` needs.
pub const CAP_NET_ADMIN: u32 = 12;

/// Whether the scripts this process starts would run without `capability`. As root, a
/// script gets the bounding set; otherwise only the ambient set survives the `execve`
/// of an ordinary program (file capabilities, as `setcap` gives the daemon, do not
/// pass on). `None` when /proc does not tell.
pub fn scripts_lack(capability: u32) -> Option<bool> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    // "Uid:" lists the real, effective, saved and filesystem ids.
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .nth(1)?;
    let field = if euid == "0" { "CapBnd:" } else { "CapAmb:" };
    let set = capability_set(&status, field)?;
    Some(set & 1u64.checked_shl(capability)? == 0)
}

/// The hexadecimal capability set on `field`'s line of /proc/PID/status.
fn capability_set(status: &str, field: &str) -> Option<u64> {
    let line = status.lines().find_map(|l| l.strip_prefix(field))?;
    u64::from_str_radix(line.trim(), 16).ok()
}

/// Detaches like ucarp (docs/PROTOCOL.md §1.3 `-B`): fork, setsid, fork again, chdir `/`, stdio to
/// /dev/null. The parents exit 0.
#[allow(unsafe_code)]
pub fn daemonize() -> io::Result<()> {
    use nix::unistd::{fork, setsid, ForkResult};
    let devnull = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    for round in 0..2 {
        // SAFETY: the process is single-threaded here (no thread is ever spawned), so
        // the child may run any code after fork.
        match unsafe { fork() }.map_err(io::Error::from)? {
            ForkResult::Parent { .. } => std::process::exit(0),
            ForkResult::Child => {}
        }
        // The first child leads a new session; the second fork leaves a process that
        // is no session leader, so it can never get a controlling terminal.
        if round == 0 {
            setsid().map_err(io::Error::from)?;
        }
    }
    nix::unistd::chdir("/").map_err(io::Error::from)?;
    crate::logger::detach_stderr();
    nix::unistd::dup2_stdin(&devnull).map_err(io::Error::from)?;
    nix::unistd::dup2_stdout(&devnull).map_err(io::Error::from)?;
    nix::unistd::dup2_stderr(&devnull).map_err(io::Error::from)?;
    Ok(())
}

/// Dies of `signal` with its default action, as ucarp does without `-z`: the daemon
/// only caught it to remove its pid file and mark its state file first.
#[allow(unsafe_code)]
pub fn die_of(signal: Signal) -> ExitCode {
    use nix::sys::signal::{raise, signal as set_handler, SigHandler, SigSet, SigmaskHow};
    // SAFETY: restoring the default disposition installs no handler code.
    let _ = unsafe { set_handler(signal, SigHandler::SigDfl) };
    let mut set = SigSet::empty();
    set.add(signal);
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&set), None);
    let _ = raise(signal);
    // Not reached for TERM, INT, QUIT or HUP; keep the conventional status otherwise.
    ExitCode::from(128 + signal as u8)
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

    #[test]
    fn capability_sets_are_read_from_proc_status() {
        let status = "Name:\tucarp\nCapInh:\t0000000000000000\nCapAmb:\t0000000000003000\nCapBnd:\t000001ffffffffff\n";
        let amb = capability_set(status, "CapAmb:").unwrap();
        assert_ne!(amb & (1 << CAP_NET_ADMIN), 0);
        assert_ne!(amb & (1 << 13), 0, "CAP_NET_RAW");
        assert_eq!(capability_set(status, "CapInh:"), Some(0));
        assert_eq!(capability_set(status, "CapEff:"), None);
        assert_eq!(capability_set("CapAmb:\tzz\n", "CapAmb:"), None);
        assert!(scripts_lack(CAP_NET_ADMIN).is_some());
    }
}
