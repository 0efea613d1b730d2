//! Hides the `-p` password from `/proc/PID/cmdline` (and so from `ps`), right after the
//! command line has been parsed.
//!
//! The kernel shows the process's original argument strings, which live in its own
//! memory between `arg_start` and `arg_end` (fields 48 and 49 of `/proc/self/stat`).
//! Every argument that ends with the password is overwritten there with `x` of the
//! same length, which covers `-p secret`, `-psecret`, `--pass=secret` and grouped
//! flags. Lengths are kept, so `ps` still shows every other argument as typed.
//!
//! This module holds the only write through a raw pointer in the crate; it must run
//! before any thread starts, after the arguments were copied out (`std::env::args_os`).

#![allow(unsafe_code)]

/// Returns the `[arg_start, arg_end)` range of `/proc/self/stat`, if readable.
fn argument_area() -> Option<(usize, usize)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may contain spaces and parentheses: count fields
    // after its closing parenthesis, where field 3 starts.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let start: usize = fields.get(48 - 3)?.parse().ok()?;
    let end: usize = fields.get(49 - 3)?.parse().ok()?;
    (start != 0 && end > start).then_some((start, end))
}

/// Overwrites, in `area` (NUL-separated arguments, the program name first), every
/// argument's suffix equal to `secret` with `x`. Returns how many were hidden.
fn scrub_area(area: &mut [u8], secret: &[u8]) -> usize {
    if secret.is_empty() {
        return 0;
    }
    let mut hidden = 0;
    let mut first = true;
    for arg in area.split_mut(|&b| b == 0) {
        if std::mem::take(&mut first) {
            continue; // the program name
        }
        if arg.ends_with(secret) {
            let at = arg.len() - secret.len();
            arg[at..].fill(b'x');
            hidden += 1;
        }
    }
    hidden
}

/// Hides `secret` in this process's visible command line. Returns how many arguments
/// were scrubbed (0 when the area cannot be found or holds no such argument).
pub fn hide(secret: &[u8]) -> usize {
    let Some((start, end)) = argument_area() else {
        return 0;
    };
    // SAFETY: the kernel reports this range as the process's own argument strings,
    // mapped and writable (they sit on the initial stack). No Rust reference points
    // into it: std copied the arguments out before this call, and no other thread runs
    // yet. Only bytes inside the range are written.
    let area = unsafe { std::slice::from_raw_parts_mut(start as *mut u8, end - start) };
    scrub_area(area, secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_the_password_is_hidden() {
        let mut area =
            b"ucarp\0-p\0secret\0-psecret\0--pass=secret\0-Pzpsecret\0-a\x00192.0.2.1\0".to_vec();
        assert_eq!(scrub_area(&mut area, b"secret"), 4);
        assert_eq!(
            area,
            b"ucarp\0-p\0xxxxxx\0-pxxxxxx\0--pass=xxxxxx\0-Pzpxxxxxx\0-a\x00192.0.2.1\0".to_vec()
        );
    }

    #[test]
    fn nothing_else_changes() {
        let mut area = b"ucarp\0-p\0other\0-i\0eth0\0".to_vec();
        let before = area.clone();
        assert_eq!(scrub_area(&mut area, b"secret"), 0);
        assert_eq!(scrub_area(&mut area, b""), 0);
        assert_eq!(area, before);
    }

    #[test]
    fn the_area_of_this_process_is_found() {
        let (start, end) = argument_area().unwrap();
        assert!(end > start);
    }
}
