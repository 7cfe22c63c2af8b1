//! LFW `pairs.txt` (DATASETS.md §1.3): the verification pairs of a benchmark, in folds.
//!
//! ```text
//! 10 300                               header `S P`: S folds of P matched + P mismatched
//! Abel_Pacheco 1 4                     matched:    name n1 n2
//! Abdel_Madi_Shabneh 1 Dean_Barker 1   mismatched: name1 n1 name2 n2
//! (the official file separates fields with tabs)
//! ```
//!
//! View 1 files (`pairsDevTrain.txt`) have the header `N` alone: one set of N + N. Fields are
//! split on runs of tabs or spaces; `\r\n` is accepted. The body is exactly `S·2P` lines; a
//! line's kind is decided by its field count (3 or 4), never by its position, and fold `k`
//! (body lines `[2Pk, 2P(k+1))`) must hold P of each kind. Image numbers are decimal, ≥ 1. An
//! image is `root/<name>/<name>_<n:04>.<ext>` (ext `jpg`; root `lfw/`, `lfw-deepfunneled/` and
//! `lfw_funneled/` share names). Other sources map `(name, n)` to the n-th image of `name`.

use std::path::{Path, PathBuf};

use super::folder::ImageFolder;
use super::source::read_file;
use crate::error::{Error, Offset, Result};

/// One image reference: identity name and 1-based image number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImageRef {
    pub name: String,
    pub number: u32,
}

/// One pair line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedPair {
    pub a: ImageRef,
    pub b: ImageRef,
    pub same: bool,
}

/// A parsed `pairs.txt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairList {
    /// S: folds (1 for View 1).
    pub folds: usize,
    /// P: matched (and mismatched) pairs per fold.
    pub per_fold: usize,
    /// Header written as `N` alone (View 1).
    pub view1: bool,
    pub pairs: Vec<NamedPair>,
}

/// Pairs resolved to image indices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedPairs {
    /// The distinct images the pairs use (paths, or indices into a folder's items).
    pub images: Vec<PathBuf>,
    /// `(index into images, index into images, same)`.
    pub pairs: Vec<(usize, usize, bool)>,
    /// Pairs dropped because a file was missing (`skip_missing`).
    pub skipped: usize,
}

/// A field of a line: its column (byte offset in the line) and its bytes.
type Field<'a> = (usize, &'a [u8]);

fn fields(line: &[u8]) -> Vec<Field<'_>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < line.len() {
        if line[i] == b'\t' || line[i] == b' ' {
            i += 1;
            continue;
        }
        let start = i;
        while i < line.len() && line[i] != b'\t' && line[i] != b' ' {
            i += 1;
        }
        out.push((start, &line[start..i]));
    }
    out
}

/// A decimal number with no sign, as written in pairs.txt.
fn decimal(f: &[u8]) -> Option<u64> {
    if f.is_empty() || !f.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(f).ok()?.parse().ok()
}

impl PairList {
    /// Parses pairs.txt text; `file` names it in errors.
    pub fn parse(text: &[u8], file: &str) -> Result<PairList> {
        // (line number, byte offset of the line, content without \r)
        let mut lines = Vec::new();
        let mut start = 0;
        for (i, raw) in text.split(|&b| b == b'\n').enumerate() {
            lines.push((i as u64 + 1, start, raw.strip_suffix(b"\r").unwrap_or(raw)));
            start += raw.len() + 1;
        }
        // Blank lines at the very end (the final newline) are not body lines.
        while lines.len() > 1 && fields(lines[lines.len() - 1].2).is_empty() {
            lines.pop();
        }
        let at = |line: u64, byte: usize| Offset::Line {
            line,
            byte: byte as u64,
        };
        let err = |line: u64, byte: usize, what: String| Error::format(file, at(line, byte), what);
        let (hl, hb, head) = lines[0];
        let hf = fields(head);
        let num = |(col, f): (usize, &[u8])| {
            decimal(f).ok_or_else(|| {
                err(
                    hl,
                    hb + col,
                    format!(
                        "header field {:?} is not a number",
                        String::from_utf8_lossy(f)
                    ),
                )
            })
        };
        let (folds, per_fold, view1) = match hf[..] {
            [n] => (1, num(n)?, true),
            [s, p] => (num(s)?, num(p)?, false),
            _ => {
                return Err(err(
                    hl,
                    hb,
                    format!("header must be `S P` or `N`, found {} fields", hf.len()),
                ))
            }
        };
        let body_len = folds
            .checked_mul(per_fold)
            .and_then(|x| x.checked_mul(2))
            .filter(|&x| x <= usize::MAX as u64)
            .ok_or_else(|| err(hl, hb, format!("header {folds} x {per_fold} overflows")))?
            as usize;
        let body = &lines[1..];
        if body.len() < body_len {
            let end = text.len();
            return Err(err(
                lines.len() as u64 + 1,
                end,
                format!(
                    "truncated: header promises {body_len} pair lines, found {}",
                    body.len()
                ),
            ));
        }
        if body.len() > body_len {
            let (l, b, _) = body[body_len];
            return Err(err(
                l,
                b,
                format!("extra line after the {body_len} pair lines the header promises"),
            ));
        }
        let mut pairs = Vec::new();
        for (k, &(line, byte, content)) in body.iter().enumerate() {
            let f = fields(content);
            let image = |(name, n): (Field, Field)| -> Result<ImageRef> {
                let name = std::str::from_utf8(name.1)
                    .map_err(|_| err(line, byte + name.0, "name is not UTF-8".into()))?;
                let number = decimal(n.1)
                    .filter(|&v| v >= 1 && v <= u32::MAX as u64)
                    .ok_or_else(|| {
                        err(
                            line,
                            byte + n.0,
                            format!(
                                "image number {:?} is not a decimal ≥ 1",
                                String::from_utf8_lossy(n.1)
                            ),
                        )
                    })?;
                Ok(ImageRef {
                    name: name.to_string(),
                    number: number as u32,
                })
            };
            let pair = match f[..] {
                [name, n1, n2] => NamedPair {
                    a: image((name, n1))?,
                    b: image((name, n2))?,
                    same: true,
                },
                [a, n1, b, n2] => NamedPair {
                    a: image((a, n1))?,
                    b: image((b, n2))?,
                    same: false,
                },
                _ => {
                    return Err(err(
                        line,
                        byte,
                        format!("expected 3 or 4 fields, found {}", f.len()),
                    ))
                }
            };
            pairs.push(pair);
            let p = per_fold as usize;
            if (k + 1) % (2 * p) == 0 {
                let fold = &pairs[k + 1 - 2 * p..];
                let matched = fold.iter().filter(|x| x.same).count();
                if matched != p {
                    let (l0, b0, _) = body[k + 1 - 2 * p];
                    return Err(err(
                        l0,
                        b0,
                        format!("fold {} has {matched} matched and {} mismatched pairs, expected {p} of each", (k + 1) / (2 * p), 2 * p - matched),
                    ));
                }
            }
        }
        Ok(PairList {
            folds: folds as usize,
            per_fold: per_fold as usize,
            view1,
            pairs,
        })
    }

    /// Reads and parses a pairs.txt file.
    pub fn read(path: &Path) -> Result<PairList> {
        PairList::parse(&read_file(path)?, &path.display().to_string())
    }

    /// The file text, tab-separated as the official file.
    pub fn to_text(&self) -> String {
        let mut out = if self.view1 {
            format!("{}\n", self.per_fold)
        } else {
            format!("{}\t{}\n", self.folds, self.per_fold)
        };
        for p in &self.pairs {
            if p.same {
                out.push_str(&format!("{}\t{}\t{}\n", p.a.name, p.a.number, p.b.number));
            } else {
                out.push_str(&format!(
                    "{}\t{}\t{}\t{}\n",
                    p.a.name, p.a.number, p.b.name, p.b.number
                ));
            }
        }
        out
    }

    /// The same/different flag of each pair, in file order.
    pub fn same_flags(&self) -> Vec<bool> {
        self.pairs.iter().map(|p| p.same).collect()
    }

    /// `root/<name>/<name>_<n:04>.<ext>`.
    pub fn image_path(root: &Path, image: &ImageRef, ext: &str) -> PathBuf {
        root.join(&image.name)
            .join(format!("{}_{:04}.{ext}", image.name, image.number))
    }

    /// Resolves the pairs to files under `root`. A missing file is an error naming the first
    /// and the count, unless `skip_missing` (facenet): then its pairs are dropped and counted.
    pub fn resolve_files(
        &self,
        root: &Path,
        ext: &str,
        skip_missing: bool,
    ) -> Result<ResolvedPairs> {
        let mut missing: Vec<PathBuf> = Vec::new();
        let mut images: Vec<PathBuf> = Vec::new();
        let mut index = std::collections::HashMap::new();
        let mut pairs = Vec::new();
        let mut skipped = 0;
        for p in &self.pairs {
            let pa = PairList::image_path(root, &p.a, ext);
            let pb = PairList::image_path(root, &p.b, ext);
            let absent: Vec<&PathBuf> = [&pa, &pb].into_iter().filter(|x| !x.is_file()).collect();
            if !absent.is_empty() {
                for x in absent {
                    if !missing.contains(x) {
                        missing.push(x.clone());
                    }
                }
                skipped += 1;
                continue;
            }
            let mut id = |path: PathBuf| {
                *index.entry(path.clone()).or_insert_with(|| {
                    images.push(path);
                    images.len() - 1
                })
            };
            let (ia, ib) = (id(pa), id(pb));
            pairs.push((ia, ib, p.same));
        }
        if !missing.is_empty() && !skip_missing {
            return Err(Error::Missing {
                list: root.display().to_string(),
                first: missing[0].display().to_string(),
                count: missing.len(),
            });
        }
        Ok(ResolvedPairs {
            images,
            pairs,
            skipped,
        })
    }

    /// Resolves the pairs to indices of `folder.items`: `(name, n)` is the n-th image (1-based,
    /// in the folder's sorted order) of class `name`.
    pub fn resolve_in_folder(&self, folder: &ImageFolder) -> Result<Vec<(usize, usize, bool)>> {
        let mut missing: Vec<String> = Vec::new();
        let mut find = |r: &ImageRef| -> usize {
            let class = folder.classes.iter().position(|c| *c == r.name);
            match class.and_then(|c| folder.class_items(c).get(r.number as usize - 1).copied()) {
                Some(i) => i,
                None => {
                    let what = format!("{} image {}", r.name, r.number);
                    if !missing.contains(&what) {
                        missing.push(what);
                    }
                    usize::MAX
                }
            }
        };
        let pairs: Vec<_> = self
            .pairs
            .iter()
            .map(|p| (find(&p.a), find(&p.b), p.same))
            .collect();
        if let Some(first) = missing.first() {
            return Err(Error::Missing {
                list: folder.root.display().to_string(),
                first: first.clone(),
                count: missing.len(),
            });
        }
        Ok(pairs)
    }
}
