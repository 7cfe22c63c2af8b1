//! Reading whole files, and gzip recognised by its magic bytes `1F 8B` (not by the file name).
//!
//! Gzip files may hold several members one after another (`cat a.gz b.gz`), so the stream is
//! read with `flate2::read::MultiGzDecoder`. Offsets in errors about the decompressed data are
//! marked `(decompressed)`; a corrupt gzip stream is reported at the decompressed offset where
//! decoding stopped.

use std::io::Read;
use std::path::Path;

use crate::error::{Error, Offset, Result};

/// The two magic bytes that start every gzip member.
pub const GZIP_MAGIC: [u8; 2] = [0x1F, 0x8B];

/// Reads a whole file, naming it in the error.
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io(path, e))
}

/// Writes a whole file, naming it in the error.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|e| Error::io(path, e))
}

/// True when `bytes` starts with the gzip magic.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&GZIP_MAGIC)
}

/// Decompresses `bytes` if they are gzip; returns the data and whether it was decompressed.
pub fn gunzip_if_needed(bytes: Vec<u8>, file: &str) -> Result<(Vec<u8>, bool)> {
    if !is_gzip(&bytes) {
        return Ok((bytes, false));
    }
    let mut out = Vec::new();
    let mut decoder = flate2::read::MultiGzDecoder::new(bytes.as_slice());
    // Read in chunks so that the offset of a fault is known.
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        match decoder.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) => {
                return Err(Error::format(
                    file,
                    Offset::Decompressed(out.len() as u64),
                    format!("corrupt gzip stream: {e}"),
                ))
            }
        }
    }
    Ok((out, true))
}

/// Compresses `bytes` as one gzip member (what the writers use for `.gz` outputs).
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing into a Vec cannot fail.
    enc.write_all(bytes).expect("writing to a Vec");
    enc.finish().expect("writing to a Vec")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_round_trip_and_multi_member() {
        let mut two = gzip(b"hello ");
        two.extend(gzip(b"world"));
        let (out, was) = gunzip_if_needed(two, "x.gz").unwrap();
        assert!(was);
        assert_eq!(out, b"hello world");
        let (plain, was) = gunzip_if_needed(b"plain".to_vec(), "x").unwrap();
        assert!(!was);
        assert_eq!(plain, b"plain");
    }

    #[test]
    fn corrupt_gzip_is_an_error_not_a_panic() {
        let mut z = gzip(&[7u8; 1000]);
        let n = z.len();
        z.truncate(n - 12);
        let e = gunzip_if_needed(z, "x.gz").unwrap_err().to_string();
        assert!(e.contains("(decompressed): corrupt gzip stream"), "{e}");
    }
}
