//! How the daemon fits a service manager: the pid file (`--pidfile`) and systemd's
//! readiness protocol (`Type=notify`, through `$NOTIFY_SOCKET`).
//!
//! Both are best-effort side channels: a failure to notify is logged at debug level
//! and never stops the daemon; a pid file that cannot be created is a setup error.

use std::io;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};

/// A pid file, removed when dropped.
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
}

impl PidFile {
    /// Writes the current pid, and a newline, to `path`.
    ///
    /// # Errors
    /// The I/O error of writing the file.
    pub fn create(path: &Path) -> io::Result<PidFile> {
        std::fs::write(path, format!("{}\n", std::process::id()))?;
        Ok(PidFile {
            path: path.to_path_buf(),
        })
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// systemd's notification socket, when the service manager asked for one.
#[derive(Debug)]
pub struct Notifier {
    socket: UnixDatagram,
    addr: std::os::unix::net::SocketAddr,
}

impl Notifier {
    /// Returns a notifier when `$NOTIFY_SOCKET` names a socket (a path, or `@name`
    /// for an abstract one), `None` otherwise.
    pub fn from_env() -> Option<Notifier> {
        let name = std::env::var_os("NOTIFY_SOCKET")?;
        let bytes = name.as_encoded_bytes();
        let addr = match bytes.first() {
            Some(b'@') => {
                use std::os::linux::net::SocketAddrExt;
                std::os::unix::net::SocketAddr::from_abstract_name(&bytes[1..]).ok()?
            }
            Some(b'/') => std::os::unix::net::SocketAddr::from_pathname(&name).ok()?,
            _ => return None,
        };
        let socket = UnixDatagram::unbound().ok()?;
        Some(Notifier { socket, addr })
    }

    /// Sends one notification, e.g. `READY=1\nSTATUS=BACKUP`.
    pub fn notify(&self, message: &str) {
        if let Err(e) = self.socket.send_to_addr(message.as_bytes(), &self.addr) {
            log::debug!("sd_notify: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_file_is_written_and_removed() {
        let path = std::env::temp_dir().join(format!("ucarp-pid-{}", std::process::id()));
        let pid = PidFile::create(&path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{}\n", std::process::id())
        );
        drop(pid);
        assert!(!path.exists());
    }

    #[test]
    fn notifications_reach_the_socket() {
        let path = std::env::temp_dir().join(format!("ucarp-notify-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let server = UnixDatagram::bind(&path).unwrap();
        let n = Notifier {
            socket: UnixDatagram::unbound().unwrap(),
            addr: std::os::unix::net::SocketAddr::from_pathname(&path).unwrap(),
        };
        n.notify("READY=1");
        let mut buf = [0u8; 64];
        let len = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1");
        std::fs::remove_file(&path).unwrap();
    }
}
