//! The course's links point at real files.
//!
//! Every chapter of `docs/` links to the source files it explains, with paths relative to
//! `docs/` (`../ops/src/matmul.rs`), so they work on GitHub and in a checkout. Files move; this
//! test reads every `docs/*.md`, extracts its relative links (inline `[text](target)`, images
//! `![alt](target)` and reference definitions `[label]: target`, outside fenced code blocks),
//! and fails naming the chapter and the link for each target that does not exist. It also
//! checks that every chapter is included in `src/course.rs` (otherwise its examples would not be
//! compiled and run by `cargo test --doc`), that every chapter links to at least one source
//! file, and that the figures the course needs are committed and small.

use std::fs;
use std::path::{Path, PathBuf};

/// Figures the chapters show, relative to `docs/`, with a size limit (they are committed).
const FIGURES: &[&str] = &["figures/margins.png"];
const MAX_FIGURE_BYTES: u64 = 200 * 1024;

fn docs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs")
}

/// The chapters: every `docs/NN-*.md` (two digits, a dash), sorted by name. Other pages of
/// `docs/` (notes, how-tos) are not chapters.
fn chapters() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(docs_dir())
        .expect("docs/ exists")
        .map(|e| e.expect("readable docs/ entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            let b = name.as_bytes();
            b.len() > 3 && b[0].is_ascii_digit() && b[1].is_ascii_digit() && b[2] == b'-'
        })
        .collect();
    out.sort();
    out
}

/// The link targets of a markdown text, outside fenced code blocks and inline code spans.
fn link_targets(markdown: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let mut in_fence = false;
    for line in markdown.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        // Reference definition: `[label]: target`.
        if let Some(rest) = trimmed.strip_prefix('[') {
            if let Some((_, def)) = rest.split_once("]: ") {
                targets.push(def.split_whitespace().next().unwrap_or("").to_string());
                continue;
            }
        }
        // Inline links and images: `](target)`, skipping code spans between backticks.
        let mut in_code = false;
        let bytes = line.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'`' => in_code = !in_code,
                b']' if !in_code && bytes.get(i + 1) == Some(&b'(') => {
                    if let Some(end) = line[i + 2..].find(')') {
                        let target = &line[i + 2..i + 2 + end];
                        // `[link](target "title")`: the target is the first word.
                        targets.push(target.split_whitespace().next().unwrap_or("").to_string());
                        i += 2 + end;
                    }
                }
                _ => {}
            }
            i += 1;
        }
    }
    targets
}

/// Targets that name a file of this repository (not a web page or an anchor in the page).
fn is_relative(target: &str) -> bool {
    !(target.is_empty()
        || target.starts_with('#')
        || target.contains("://")
        || target.starts_with("mailto:"))
}

#[test]
fn every_relative_link_of_the_course_exists() {
    let chapters = chapters();
    assert!(!chapters.is_empty(), "no chapters in docs/");
    let mut broken = Vec::new();
    let mut checked = 0;
    for chapter in &chapters {
        let name = chapter.file_name().unwrap().to_string_lossy().to_string();
        let text = fs::read_to_string(chapter).expect("readable chapter");
        let mut sources = 0;
        for target in link_targets(&text).into_iter().filter(|t| is_relative(t)) {
            let path = target.split('#').next().unwrap_or("");
            checked += 1;
            if !docs_dir().join(path).exists() {
                broken.push(format!("{name}: link `{target}` points at no file"));
            } else if path.ends_with(".rs") {
                sources += 1;
            }
        }
        if sources == 0 {
            broken.push(format!("{name}: links to no source file (.rs)"));
        }
    }
    assert!(
        broken.is_empty(),
        "broken links in the course ({} of {checked} checked):\n{}",
        broken.len(),
        broken.join("\n")
    );
    println!(
        "course links: {checked} relative links in {} chapters, all present",
        chapters.len()
    );
}

#[test]
fn every_chapter_is_compiled_by_the_course_module() {
    let course = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/course.rs"))
        .expect("src/course.rs exists");
    let missing: Vec<String> = chapters()
        .iter()
        .map(|c| c.file_name().unwrap().to_string_lossy().to_string())
        .filter(|name| !course.contains(&format!("include_str!(\"../docs/{name}\")")))
        .collect();
    assert!(
        missing.is_empty(),
        "chapters not included in src/course.rs (their code would not be tested): {missing:?}"
    );
}

#[test]
fn the_figures_are_committed_and_small() {
    for figure in FIGURES {
        let path = docs_dir().join(figure);
        let meta = fs::metadata(&path).unwrap_or_else(|_| {
            panic!(
                "docs/{figure} is missing: make it with `cargo run --release --example \
                 plot_margins`"
            )
        });
        assert!(
            meta.len() <= MAX_FIGURE_BYTES,
            "docs/{figure} has {} bytes, more than {MAX_FIGURE_BYTES}",
            meta.len()
        );
        let mut magic = [0u8; 8];
        let bytes = fs::read(&path).expect("readable figure");
        magic.copy_from_slice(&bytes[..8]);
        assert_eq!(&magic, b"\x89PNG\r\n\x1a\n", "docs/{figure} is not a PNG");
    }
}

#[test]
fn the_link_parser_finds_what_it_should() {
    let text = "See [`a`](../a.rs) and ![fig](figures/x.png), not `[x](y)` or\n\
                ```text\n[in](code.rs)\n```\n[ref]: ../b.rs\n[web](https://x.org) [top](#s)";
    let targets = link_targets(text);
    assert_eq!(
        targets,
        ["../a.rs", "figures/x.png", "../b.rs", "https://x.org", "#s"]
    );
    let relative: Vec<&String> = targets.iter().filter(|t| is_relative(t)).collect();
    assert_eq!(relative, ["../a.rs", "figures/x.png", "../b.rs"]);
}
