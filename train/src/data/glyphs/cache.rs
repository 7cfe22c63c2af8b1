//! The rendered glyph tensors, cached under the data directory, keyed by the font files.
//!
//! File `<data dir>/glyphs/render-<key>.bin`: the magic `AGGLYPH1`, three u32 LE counts (train
//! glyphs, test glyphs, similarity glyphs), then the u8 images (1 024 bytes each). `<key>` is a
//! 64-bit hash of every font file and of [`FORMAT_VERSION`], so changing a font or the renderer
//! makes a new file. A cache that does not read back whole is ignored and rewritten.
//! The data directory is `$ANGLEGRAD_DATA_DIR`, else `$HOME/.cache/anglegrad`.

use std::path::PathBuf;

use crate::data::rng::mix;

/// Bumped whenever rendering changes.
pub const FORMAT_VERSION: u64 = 1;
const MAGIC: &[u8; 8] = b"AGGLYPH1";

/// The data directory, if one can be named.
pub fn data_dir() -> Option<PathBuf> {
    std::env::var_os("ANGLEGRAD_DATA_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/anglegrad")))
}

/// A 64-bit hash of byte strings (SplitMix64's `mix` over 8-byte words; not cryptographic).
pub fn content_key<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> u64 {
    let mut h = mix(FORMAT_VERSION);
    for part in parts {
        h = mix(h ^ part.len() as u64);
        for chunk in part.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            h = mix(h ^ u64::from_le_bytes(word));
        }
    }
    h
}

fn path(key: u64) -> Option<PathBuf> {
    data_dir().map(|d| d.join("glyphs").join(format!("render-{key:016x}.bin")))
}

/// The three cached tensors, if a whole cache file for `key` exists.
pub fn load(key: u64, counts: [usize; 3]) -> Option<[Vec<u8>; 3]> {
    let bytes = std::fs::read(path(key)?).ok()?;
    let body = bytes.strip_prefix(MAGIC.as_slice())?;
    let stored: Vec<usize> = body
        .chunks(4)
        .take(3)
        .map(|c| u32::from_le_bytes(c.try_into().unwrap_or([0; 4])) as usize)
        .collect();
    if stored != counts || body.len() != 12 + counts.iter().sum::<usize>() * 1024 {
        return None;
    }
    let mut rest = &body[12..];
    Some(counts.map(|n| {
        let (head, tail) = rest.split_at(n * 1024);
        rest = tail;
        head.to_vec()
    }))
}

/// Writes the tensors; a failure only costs the next run a re-render, so it is not an error.
pub fn store(key: u64, tensors: &[Vec<u8>; 3]) {
    let Some(p) = path(key) else { return };
    let mut out = MAGIC.to_vec();
    for t in tensors {
        out.extend((t.len() as u32 / 1024).to_le_bytes());
    }
    tensors.iter().for_each(|t| out.extend_from_slice(t));
    if let Some(dir) = p.parent() {
        let tmp = p.with_extension("tmp");
        let _ = std::fs::create_dir_all(dir)
            .and_then(|_| std::fs::write(&tmp, &out))
            .and_then(|_| std::fs::rename(&tmp, &p));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_depends_on_every_byte_and_the_split() {
        let a = content_key([b"abc".as_slice(), b"def"]);
        assert_eq!(a, content_key([b"abc".as_slice(), b"def"]));
        assert_ne!(a, content_key([b"abc".as_slice(), b"deg"]));
        assert_ne!(a, content_key([b"abcd".as_slice(), b"ef"]));
    }
}
