//! Helpers shared by the daemon's unit tests: polling and writing scripts. The golden
//! frames and hex helpers are the core's (`carp::testutil`).

pub use carp::testutil::*;

/// Polls `cond` every 10 ms for up to 5 s; returns whether it became true.
pub fn wait_for(mut cond: impl FnMut() -> bool) -> bool {
    for _ in 0..500 {
        if cond() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    false
}

/// Writes an executable script. The file is written by a child process: if this
/// process held the writable descriptor, a child forked meanwhile by another test
/// thread could inherit it, and executing the script would fail with ETXTBSY.
pub fn write_script(path: &std::path::Path, body: &str) {
    let ok = std::process::Command::new("/bin/sh")
        .args([
            "-c",
            "printf '%s' \"$1\" > \"$2\" && chmod 755 \"$2\"",
            "sh",
            body,
        ])
        .arg(path)
        .status()
        .unwrap()
        .success();
    assert!(ok, "cannot write {}", path.display());
}
