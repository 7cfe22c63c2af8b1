//! Bounds-checked reading of binary formats, with the offset of every fault.
//!
//! Readers never index a buffer directly: they ask a [`ByteReader`] for `n` bytes, and it
//! checks `n` against the bytes left *before* anything is allocated, naming the field that did
//! not fit. Errors carry the file name and the offset (marked `(decompressed)` for gzip data).

use crate::error::{Error, Offset, Result};

/// A cursor over a byte buffer that knows the file it came from.
pub(crate) struct ByteReader<'a> {
    buf: &'a [u8],
    pos: usize,
    file: &'a str,
    decompressed: bool,
}

impl<'a> ByteReader<'a> {
    /// A reader at offset 0 of `buf`; `decompressed` marks offsets into a gzip stream.
    pub fn new(buf: &'a [u8], file: &'a str, decompressed: bool) -> ByteReader<'a> {
        ByteReader {
            buf,
            pos: 0,
            file,
            decompressed,
        }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The error "`what`" at byte `at` of this file.
    pub fn error_at(&self, at: usize, what: impl Into<String>) -> Error {
        let offset = if self.decompressed {
            Offset::Decompressed(at as u64)
        } else {
            Offset::Byte(at as u64)
        };
        Error::format(self.file, offset, what)
    }

    /// The next `n` bytes, or "truncated `what`: needs n bytes, m left" at the current offset.
    pub fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(self.error_at(
                self.pos,
                format!(
                    "truncated {what}: needs {n} bytes, {} left",
                    self.remaining()
                ),
            ));
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    pub fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.take(1, what)?[0])
    }

    pub fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    pub fn u32_be(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    pub fn u32_le(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    pub fn u64_le(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    pub fn f32_le(&mut self, what: &str) -> Result<f32> {
        Ok(f32::from_le_bytes(self.array(what)?))
    }
}

/// Multiplies dimensions, failing (not wrapping) on overflow: `Π dims · elem_size`.
pub(crate) fn checked_volume(dims: &[usize], elem_size: usize) -> Option<usize> {
    dims.iter()
        .try_fold(elem_size, |acc, &d| acc.checked_mul(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_checks_before_reading() {
        let data = [1u8, 2, 3, 4, 5];
        let mut r = ByteReader::new(&data, "f.bin", false);
        assert_eq!(r.u32_be("magic").unwrap(), 0x0102_0304);
        let e = r.take(2, "payload").unwrap_err().to_string();
        assert_eq!(e, "f.bin: byte 4: truncated payload: needs 2 bytes, 1 left");
        let mut r = ByteReader::new(&data, "f.gz", true);
        let e = r.take(usize::MAX, "data").unwrap_err().to_string();
        assert!(
            e.starts_with("f.gz: byte 0 (decompressed): truncated data"),
            "{e}"
        );
    }

    #[test]
    fn volume_overflow_is_none() {
        assert_eq!(checked_volume(&[2, 3, 4], 4), Some(96));
        assert_eq!(checked_volume(&[usize::MAX, 2], 1), None);
        assert_eq!(checked_volume(&[], 8), Some(8));
    }
}
