//! MXNet RecordIO, the physical layer: records split around the magic (DATASETS.md §1.5).
//!
//! A physical record at offset `o` (`o % 4 = 0`), little-endian:
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | o | 4 | magic `0xCED7230A` (bytes `0A 23 D7 CE`) |
//! | o+4 | 4 | `lrec`: `cflag = lrec >> 29`, `len = lrec & 0x1FFFFFFF` |
//! | o+8 | len | payload part, then zero padding to a multiple of 4 |
//!
//! `cflag` 0 = a whole record; 1 = first, 2 = middle, 3 = last part of a split one. So that a
//! reader can resynchronise on the magic, the writer never lets it appear at an aligned offset:
//! it splits the payload at each 4-aligned offset (from the payload start) holding the magic
//! bytes and drops them; the reader joins the parts with the magic put back between.

use std::io::{Read, Seek, SeekFrom, Write};

use crate::error::{Error, Offset, Result};

/// The RecordIO magic number.
pub const MAGIC: u32 = 0xCED7_230A;
/// The magic of the 2015 dmlc RecordIO format, whose `lrec` has a 30/2-bit split.
pub const DMLC_2015_MAGIC: u32 = 0x3ED7_230A;
/// The largest part length `len` can hold (29 bits), and so the largest payload written.
pub const MAX_LEN: usize = (1 << 29) - 1;

fn padded(len: usize) -> usize {
    (len + 3) & !3
}

/// Encodes one logical payload as its physical parts.
pub fn encode_record(payload: &[u8]) -> Result<Vec<u8>> {
    if payload.len() > MAX_LEN {
        return Err(Error::Invalid(format!(
            "RecordIO payload of {} bytes: the format holds at most 2^29 − 1",
            payload.len()
        )));
    }
    let magic = MAGIC.to_le_bytes();
    // Split points: aligned offsets that hold the magic bytes.
    let splits: Vec<usize> = (0..payload.len().saturating_sub(3))
        .step_by(4)
        .filter(|&i| payload[i..i + 4] == magic)
        .collect();
    let mut out = Vec::with_capacity(padded(payload.len()) + 8 * (splits.len() + 1));
    let mut push_part = |cflag: u32, part: &[u8]| {
        out.extend_from_slice(&magic);
        out.extend_from_slice(&((cflag << 29) | part.len() as u32).to_le_bytes());
        out.extend_from_slice(part);
        out.resize(padded(out.len()), 0);
    };
    let mut start = 0;
    for (k, &at) in splits.iter().enumerate() {
        push_part(if k == 0 { 1 } else { 2 }, &payload[start..at]);
        start = at + 4;
    }
    push_part(if splits.is_empty() { 0 } else { 3 }, &payload[start..]);
    Ok(out)
}

/// Appends records to a `.rec` stream, returning each record's offset (for the `.idx`).
pub struct RecordWriter<W: Write> {
    out: W,
    pos: u64,
    file: String,
}

impl<W: Write> RecordWriter<W> {
    pub fn new(out: W, file: &str) -> RecordWriter<W> {
        RecordWriter {
            out,
            pos: 0,
            file: file.to_string(),
        }
    }

    /// Writes one logical record; returns its offset.
    pub fn write(&mut self, payload: &[u8]) -> Result<u64> {
        let bytes = encode_record(payload)?;
        self.out.write_all(&bytes).map_err(|e| Error::Io {
            file: self.file.clone(),
            source: e,
        })?;
        let at = self.pos;
        self.pos += bytes.len() as u64;
        Ok(at)
    }

    /// The underlying stream.
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// Reads logical records from a `.rec` stream of known length.
pub struct RecordReader<R: Read + Seek> {
    src: R,
    len: u64,
    file: String,
}

impl<R: Read + Seek> RecordReader<R> {
    /// A reader over `src`, which is `len` bytes long; `file` names it in errors.
    pub fn new(src: R, len: u64, file: &str) -> RecordReader<R> {
        RecordReader {
            src,
            len,
            file: file.to_string(),
        }
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn file(&self) -> &str {
        &self.file
    }

    fn error(&self, at: u64, what: impl Into<String>) -> Error {
        Error::format(&self.file, Offset::Byte(at), what)
    }

    fn read_exact_at(&mut self, at: u64, buf: &mut [u8]) -> Result<()> {
        let file = &self.file;
        let io = |e| Error::Io {
            file: file.clone(),
            source: e,
        };
        self.src.seek(SeekFrom::Start(at)).map_err(io)?;
        self.src.read_exact(buf).map_err(io)
    }

    /// The logical record starting at `offset`, and the offset just after it.
    pub fn read_at(&mut self, offset: u64) -> Result<(Vec<u8>, u64)> {
        if offset % 4 != 0 {
            return Err(self.error(offset, "record offset is not a multiple of 4"));
        }
        let mut payload = Vec::new();
        let mut open: Option<u64> = None;
        let mut pos = offset;
        loop {
            let left = self.len.saturating_sub(pos);
            if left < 8 {
                return Err(match open {
                    Some(start) if left == 0 => self.error(
                        pos,
                        format!("end of file inside the multi-part record at byte {start}"),
                    ),
                    _ => self.error(
                        pos,
                        format!("truncated record header: needs 8 bytes, {left} left"),
                    ),
                });
            }
            let mut head = [0u8; 8];
            self.read_exact_at(pos, &mut head)?;
            let magic = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
            if magic != MAGIC {
                let what = if magic == DMLC_2015_MAGIC {
                    format!(
                        "bad RecordIO magic 0x{magic:08X}: the 2015 dmlc format (30/2-bit \
                         length/flag split), not MXNet's 0x{MAGIC:08X}; re-pack with MXNet"
                    )
                } else {
                    format!("bad RecordIO magic 0x{magic:08X}")
                };
                return Err(self.error(pos, what));
            }
            let lrec = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
            let (cflag, len) = (lrec >> 29, (lrec & 0x1FFF_FFFF) as u64);
            if cflag > 3 {
                return Err(self.error(pos + 4, format!("cflag {cflag} > 3")));
            }
            match (cflag, open) {
                (2 | 3, None) => {
                    return Err(self.error(
                        pos,
                        format!("continuation part (cflag {cflag}) with no open record"),
                    ))
                }
                (0 | 1, Some(start)) => {
                    return Err(self.error(
                        pos,
                        format!("cflag {cflag} inside the multi-part record at byte {start}"),
                    ))
                }
                _ => {}
            }
            let body = pos + 8;
            let left = self.len - body;
            if len > left {
                return Err(self.error(
                    body,
                    format!("record length {len} past the end of the file ({left} bytes left)"),
                ));
            }
            let pad = padded(len as usize) as u64;
            if pad > left {
                return Err(self.error(body + len, "padding past the end of the file"));
            }
            if cflag >= 2 {
                payload.extend_from_slice(&MAGIC.to_le_bytes());
            }
            let start = payload.len();
            payload.resize(start + len as usize, 0);
            self.read_exact_at(body, &mut payload[start..])?;
            pos = body + pad;
            match cflag {
                0 | 3 => return Ok((payload, pos)),
                _ => open = open.or(Some(offset)),
            }
        }
    }

    /// Every record of the file in order, with its offset.
    pub fn read_all(&mut self) -> Result<Vec<(u64, Vec<u8>)>> {
        let mut out = Vec::new();
        let mut pos = 0;
        while pos < self.len {
            let (payload, next) = self.read_at(pos)?;
            out.push((pos, payload));
            pos = next;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_record_layout_by_hand() {
        let bytes = encode_record(b"abcde").unwrap();
        assert_eq!(
            bytes,
            [0x0A, 0x23, 0xD7, 0xCE, 5, 0, 0, 0, b'a', b'b', b'c', b'd', b'e', 0, 0, 0]
        );
    }

    #[test]
    fn magic_at_aligned_offsets_splits_unaligned_does_not() {
        let m = MAGIC.to_le_bytes();
        // Magic at 0 and 8 (aligned), and at 13 (not aligned).
        let mut p = m.to_vec();
        p.extend_from_slice(b"wxyz");
        p.extend_from_slice(&m);
        p.extend_from_slice(b"q");
        p.extend_from_slice(&m);
        let bytes = encode_record(&p).unwrap();
        // Parts: "" (cflag 1), "wxyz" (2), "q" + magic (3, len 5).
        let lrecs: Vec<u32> = [4usize, 12, 24]
            .iter()
            .map(|&o| u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap()))
            .collect();
        assert_eq!(lrecs, vec![1 << 29, (2 << 29) | 4, (3 << 29) | 5]);
        let len = bytes.len() as u64;
        let mut r = RecordReader::new(std::io::Cursor::new(bytes), len, "t.rec");
        assert_eq!(r.read_at(0).unwrap(), (p, len));
    }
}
