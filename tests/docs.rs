//! The repository documents itself: every citation names a document inside it and a
//! section that exists there, and nothing points outside the repository. Run by
//! `scripts/test` with the rest; pure (reads the files git tracks).
//!
//! A citation is `§N` or `§N.N…`. It belongs to the nearest document named before it
//! on its line or at the end of the line above (citations wrap in comments): `PROTOCOL.md`
//! (`docs/PROTOCOL.md`, whose `##`/`###` headings are numbered) or an RFC, whose sections
//! are not checked. Inside `docs/PROTOCOL.md` a bare `§N` is that document's own.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const PROTOCOL: &str = "docs/PROTOCOL.md";

/// Documents that were never part of the repository; naming one is always a mistake.
const OUTSIDE: [&str; 4] = ["SPEC.md", "STYLE.md", "VRRP.md", "../shared"];

/// The text files of the repository, relative to the root: those git tracks, or, in a
/// copy without git (a source tarball), every file outside build output.
fn tracked_text_files() -> Vec<String> {
    let listed = Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(ROOT)
        .output()
        .ok()
        .filter(|o| o.status.success() && !o.stdout.is_empty());
    let files: Vec<String> = match listed {
        Some(out) => String::from_utf8_lossy(&out.stdout)
            .split('\0')
            .filter(|f| !f.is_empty())
            .map(str::to_string)
            .collect(),
        None => walk(Path::new(ROOT), Path::new("")),
    };
    files
        .into_iter()
        .filter(|f| std::fs::read_to_string(Path::new(ROOT).join(f)).is_ok())
        .collect()
}

/// Every file below `root/dir`, skipping build output and version control.
fn walk(root: &Path, dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root.join(dir))
        .into_iter()
        .flatten()
        .flatten()
    {
        let rel = dir.join(entry.file_name());
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().is_dir() {
            if !matches!(name.as_str(), "target" | ".git") {
                out.extend(walk(root, &rel));
            }
        } else {
            out.push(rel.to_string_lossy().into_owned());
        }
    }
    out
}

/// The section numbers of a Markdown document's numbered headings: `## 4. Receive`
/// gives `4`, `### 4.3 Checks` gives `4.3`.
fn section_numbers(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix('#'))
        .map(|l| l.trim_start_matches('#').trim())
        .filter_map(|l| l.split_whitespace().next())
        .map(|n| n.trim_end_matches('.').to_string())
        .filter(|n| !n.is_empty() && n.split('.').all(|p| p.parse::<u32>().is_ok()))
        .collect()
}

/// Which document a citation at byte `at` of `line` belongs to, given the line before.
fn cited_document(line: &str, at: usize, previous: &str, own: bool) -> Option<&'static str> {
    let before = &line[..at];
    let named = |text: &str| -> Option<(usize, &'static str)> {
        let p = text.rfind("PROTOCOL.md").map(|i| (i, "protocol"));
        let r = text.rfind("RFC ").map(|i| (i, "rfc"));
        match (p, r) {
            (Some(p), Some(r)) => Some(if p.0 > r.0 { p } else { r }),
            (p, r) => p.or(r),
        }
    };
    if let Some((_, doc)) = named(before) {
        return Some(doc);
    }
    let tail: String = previous
        .trim_end()
        .chars()
        .rev()
        .take(24)
        .collect::<String>()
        .chars()
        .rev()
        .collect();
    if let Some((_, doc)) = named(&tail) {
        return Some(doc);
    }
    own.then_some("protocol")
}

/// The `N` or `N.N…` right after a `§` (and an optional space).
fn section_after(rest: &str) -> String {
    rest.trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect::<String>()
        .trim_end_matches('.')
        .to_string()
}

/// The sections a citation names: one, or both ends of a range (`§2.1–2.3`).
fn sections_after(rest: &str) -> Vec<String> {
    let first = section_after(rest);
    let after = rest.trim_start().get(first.len()..).unwrap_or("");
    match after.strip_prefix('–').or_else(|| after.strip_prefix('-')) {
        Some(end) if end.starts_with(|c: char| c.is_ascii_digit()) => {
            vec![first, section_after(end)]
        }
        _ => vec![first],
    }
}

/// Resolves `target` against `dir` (both relative to the root) without touching the
/// file system; `None` when it climbs above the root.
fn resolve(dir: &Path, target: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in dir.join(target).components() {
        match c {
            Component::ParentDir if !out.pop() => return None,
            Component::Normal(p) => out.push(p),
            _ => {}
        }
    }
    Some(out)
}

#[test]
fn citations_name_documents_and_sections_that_exist() {
    let protocol = std::fs::read_to_string(Path::new(ROOT).join(PROTOCOL))
        .unwrap_or_else(|e| panic!("{PROTOCOL}: {e}"));
    let sections = section_numbers(&protocol);
    assert!(sections.contains("4.3"), "{sections:?}");
    let mut problems = Vec::new();
    for file in tracked_text_files() {
        if file == "tests/docs.rs" {
            continue;
        }
        let text = std::fs::read_to_string(Path::new(ROOT).join(&file)).unwrap();
        let own = file == PROTOCOL;
        let mut previous = "";
        for (n, line) in text.lines().enumerate() {
            let at = format!("{file}:{}", n + 1);
            for name in OUTSIDE {
                if line.contains(name) {
                    problems.push(format!(
                        "{at}: names {name}, which is not in the repository"
                    ));
                }
            }
            for (i, _) in line.match_indices('§') {
                let cited = sections_after(&line[i + '§'.len_utf8()..]);
                match cited_document(line, i, previous, own) {
                    None => problems.push(format!(
                        "{at}: §{} names no document (write {PROTOCOL} §{})",
                        cited[0], cited[0]
                    )),
                    Some("protocol") => {
                        for section in cited.iter().filter(|s| !sections.contains(*s)) {
                            problems.push(format!("{at}: {PROTOCOL} has no section {section:?}"));
                        }
                    }
                    _ => {}
                }
            }
            previous = line;
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn links_and_relative_paths_stay_inside_the_repository() {
    let mut problems = Vec::new();
    for file in tracked_text_files() {
        if file == "tests/docs.rs" {
            continue;
        }
        let text = std::fs::read_to_string(Path::new(ROOT).join(&file)).unwrap();
        let dir = Path::new(&file).parent().unwrap_or(Path::new(""));
        for (n, line) in text.lines().enumerate() {
            let at = format!("{file}:{}", n + 1);
            if line.contains("/work/") {
                problems.push(format!("{at}: an absolute path of the build machine"));
            }
            // Relative paths that climb: `../x` must land inside the repository.
            for (i, _) in line.match_indices("../") {
                if i > 0 && line.as_bytes()[i - 1] == b'.' {
                    continue; // the middle of `../../`, seen from its start
                }
                let target: String = line[i..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || "._-/".contains(*c))
                    .collect();
                if resolve(dir, &target).is_none() {
                    problems.push(format!("{at}: {target} leaves the repository"));
                }
            }
            // Markdown links to files must reach one that exists.
            if file.ends_with(".md") {
                for (i, _) in line.match_indices("](") {
                    let target: String = line[i + 2..].chars().take_while(|c| *c != ')').collect();
                    let path = target.split('#').next().unwrap_or("");
                    if path.is_empty() || path.contains("://") || path.starts_with("mailto:") {
                        continue;
                    }
                    match resolve(dir, path) {
                        Some(p) if Path::new(ROOT).join(&p).exists() => {}
                        _ => problems.push(format!("{at}: link to {path}, which does not exist")),
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn the_checker_reads_citations_as_intended() {
    let s = section_numbers("# Title\n## 4. Receiving\n### 4.3 Checks, in order\n## Notes\n");
    assert_eq!(s, BTreeSet::from(["4".to_string(), "4.3".to_string()]));
    let line = "// as docs/PROTOCOL.md §4.3 and §5.4 say; RFC 1071 §3";
    let at = |needle: &str| line.find(needle).unwrap() + needle.len() - "§4.3".len();
    assert_eq!(
        cited_document(line, at("§4.3"), "", false),
        Some("protocol")
    );
    assert_eq!(
        cited_document(line, at("§5.4"), "", false),
        Some("protocol")
    );
    assert_eq!(
        cited_document(line, line.rfind('§').unwrap(), "", false),
        Some("rfc")
    );
    assert_eq!(
        cited_document(
            "/// §12 item 13)",
            4,
            "/// the group (docs/PROTOCOL.md",
            false
        ),
        Some("protocol")
    );
    assert_eq!(cited_document("see §5.4", 4, "", false), None);
    assert_eq!(cited_document("see §5.4", 4, "", true), Some("protocol"));
    assert_eq!(section_after(" 12 item 13"), "12");
    assert_eq!(section_after("5.4)."), "5.4");
    assert_eq!(sections_after("2.1–2.3) and"), ["2.1", "2.3"]);
    assert_eq!(sections_after(" 5.4-x"), ["5.4"]);
    let docs = walk(Path::new(ROOT), Path::new("docs"));
    assert!(docs.contains(&"docs/PROTOCOL.md".to_string()), "{docs:?}");
    assert_eq!(
        resolve(Path::new("fuzz"), "../carp"),
        Some(PathBuf::from("carp"))
    );
    assert_eq!(resolve(Path::new("fuzz"), "../../shared"), None);
}
