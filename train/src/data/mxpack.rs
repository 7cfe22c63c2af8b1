//! MXNet face packs: `train.rec` + `train.idx` + `property` (DATASETS.md §1.5; insightface's
//! MS1M, Glint360K, CASIA-WebFace packs).
//!
//! `property` is ASCII `C,H,W` (`85742,112,112`: classes and image size). `train.idx` has lines
//! `key\toffset\n` in decimal. Each logical record (see [`super::recordio`]) starts with an
//! `IRHeader` of 24 bytes (`struct.pack('IfQQ')`, no padding):
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 4 | `flag` u32 |
//! | 4 | 4 | `label` f32 (0 when flag > 0) |
//! | 8 / 16 | 8 / 8 | `id` u64 / `id2` u64 |
//! | 24 | 4·flag | f32 labels; class = `labels[0]` (`face2rec2.py`: `[class, aligned]`) |
//! | 24+4·flag | rest | image, JPEG (PNG allowed) |
//!
//! **Identity index**: if key 0 has `flag > 0`, no image, and labels `[a, b]`, images are keys
//! `1..a−1` (sorted by identity) and keys `a..b−1` are identity records (no image, labels
//! `[start, end)`, class = key − a), which give per-identity counts without reading images.
//! Without it (newer packs) every `.idx` key, in file order, is an image.

use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::ops::Range;
use std::path::Path;

use super::codec::{first_bytes_hex, ImageKind};
use super::recordio::{RecordReader, RecordWriter};
use super::source::{read_file, write_file};
use crate::data::bytes::ByteReader;
use crate::error::{Error, Offset, Result};

/// The 24-byte record header, and the extra labels that follow it.
#[derive(Debug, Clone, PartialEq)]
pub struct IrHeader {
    pub flag: u32,
    pub label: f32,
    pub id: u64,
    pub id2: u64,
    /// `flag` extra labels.
    pub labels: Vec<f32>,
}

impl IrHeader {
    /// The header of an image of class `class` (flag 0, the class in `label`).
    pub fn image(class: usize, id: u64) -> IrHeader {
        IrHeader {
            flag: 0,
            label: class as f32,
            id,
            id2: 0,
            labels: vec![],
        }
    }

    /// The class: `labels[0]` when there are labels, else `label`.
    pub fn class_value(&self) -> f32 {
        self.labels.first().copied().unwrap_or(self.label)
    }
}

/// `IRHeader + labels + image` as a record payload.
pub fn encode_irecord(header: &IrHeader, image: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(24 + 4 * header.labels.len() + image.len());
    out.extend_from_slice(&(header.labels.len() as u32).to_le_bytes());
    out.extend_from_slice(&header.label.to_le_bytes());
    out.extend_from_slice(&header.id.to_le_bytes());
    out.extend_from_slice(&header.id2.to_le_bytes());
    header
        .labels
        .iter()
        .for_each(|l| out.extend(l.to_le_bytes()));
    out.extend_from_slice(image);
    out
}

/// Splits a record payload into header and image. `at` is the record's file offset; error
/// offsets are `at + 8 +` the offset in the payload (exact for unsplit records).
pub fn decode_irecord<'a>(payload: &'a [u8], file: &str, at: u64) -> Result<(IrHeader, &'a [u8])> {
    let mut r = ByteReader::new(payload, file, false);
    let shift = |e: Error| match e {
        Error::Format {
            file,
            offset: Offset::Byte(b),
            what,
        } => Error::Format {
            file,
            offset: Offset::Byte(b + at + 8),
            what,
        },
        e => e,
    };
    let flag = r.u32_le("IRHeader").map_err(shift)?;
    let label = r.f32_le("IRHeader").map_err(shift)?;
    let id = r.u64_le("IRHeader").map_err(shift)?;
    let id2 = r.u64_le("IRHeader").map_err(shift)?;
    let n = flag as usize;
    let raw = r
        .take(n.saturating_mul(4), &format!("{flag} IRHeader labels"))
        .map_err(shift)?;
    let labels = raw
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let image = &payload[r.pos()..];
    Ok((
        IrHeader {
            flag,
            label,
            id,
            id2,
            labels,
        },
        image,
    ))
}

/// Parses `property`: `C,H,W`.
pub fn parse_property(text: &[u8], file: &str) -> Result<[usize; 3]> {
    let err = |what: String| Error::format(file, Offset::Line { line: 1, byte: 0 }, what);
    let s = std::str::from_utf8(text).map_err(|_| err("property is not ASCII".into()))?;
    let fields: Vec<&str> = s.trim_end().split(',').collect();
    let nums: Option<Vec<usize>> = fields.iter().map(|f| f.trim().parse().ok()).collect();
    match nums.as_deref() {
        Some(&[c, h, w]) if h > 0 && w > 0 => Ok([c, h, w]),
        _ => Err(err(format!(
            "expected `classes,height,width`, found {:?}",
            s.trim_end()
        ))),
    }
}

/// Parses `train.idx`: lines `key\toffset`, checking syntax, duplicate keys, and offsets
/// (below `rec_len`, multiples of 4). Returns `(key, offset)` in file order.
pub fn parse_index(text: &[u8], file: &str, rec_len: u64) -> Result<Vec<(u64, u64)>> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut line_start = 0usize;
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        let this_start = line_start;
        line_start += line.len() + 1;
        let at = |col: usize| Offset::Line {
            line: i as u64 + 1,
            byte: (this_start + col) as u64,
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            if this_start + 1 >= text.len() {
                continue; // the final newline
            }
            return Err(Error::format(file, at(0), "empty line"));
        }
        let fields: Vec<&[u8]> = line
            .split(|&b| b == b'\t' || b == b' ')
            .filter(|f| !f.is_empty())
            .collect();
        let num = |f: &[u8]| -> Option<u64> {
            if f.iter().all(u8::is_ascii_digit) {
                std::str::from_utf8(f).ok()?.parse().ok()
            } else {
                None
            }
        };
        let (key, offset) = match fields[..] {
            [k, o] => match (num(k), num(o)) {
                (Some(k), Some(o)) => (k, o),
                _ => {
                    return Err(Error::format(
                        file,
                        at(0),
                        "expected `key<TAB>offset` in decimal",
                    ))
                }
            },
            _ => {
                return Err(Error::format(
                    file,
                    at(0),
                    "expected `key<TAB>offset` in decimal",
                ))
            }
        };
        if !seen.insert(key) {
            return Err(Error::format(file, at(0), format!("duplicate key {key}")));
        }
        if offset >= rec_len || offset % 4 != 0 {
            return Err(Error::format(
                file,
                at(0),
                format!(
                    "offset {offset} is past the .rec ({rec_len} bytes) or not a multiple of 4"
                ),
            ));
        }
        out.push((key, offset));
    }
    Ok(out)
}

/// One image record of a pack.
#[derive(Debug, Clone, PartialEq)]
pub struct PackRecord {
    pub key: u64,
    pub class: usize,
    pub header: IrHeader,
    /// The encoded image (JPEG or PNG).
    pub image: Vec<u8>,
}

/// A RecordIO face pack opened for random access.
pub struct RecordPack<R: Read + Seek> {
    reader: RecordReader<R>,
    idx_file: String,
    /// `(key, offset)` of each image, in order.
    images: Vec<(u64, u64)>,
    /// `[C, H, W]` from `property`, when present.
    pub property: Option<[usize; 3]>,
    /// The image-key range of each identity, from the identity index.
    pub identities: Option<Vec<Range<u64>>>,
}

impl RecordPack<BufReader<File>> {
    /// Opens `train.rec`, with `train.idx` beside it (same stem) and `property` in the same
    /// folder if there is one.
    pub fn open(rec_path: &Path) -> Result<Self> {
        let idx_path = rec_path.with_extension("idx");
        let prop_path = rec_path.with_file_name("property");
        let f = File::open(rec_path).map_err(|e| Error::io(rec_path, e))?;
        let len = f.metadata().map_err(|e| Error::io(rec_path, e))?.len();
        let idx = read_file(&idx_path)?;
        let prop = if prop_path.exists() {
            Some(read_file(&prop_path)?)
        } else {
            None
        };
        let reader = RecordReader::new(BufReader::new(f), len, &rec_path.display().to_string());
        RecordPack::new(
            reader,
            &idx,
            &idx_path.display().to_string(),
            prop.as_deref(),
        )
    }
}

impl<R: Read + Seek> RecordPack<R> {
    /// A pack from a record reader, the `.idx` text and the `property` text.
    pub fn new(
        mut reader: RecordReader<R>,
        idx: &[u8],
        idx_file: &str,
        property: Option<&[u8]>,
    ) -> Result<Self> {
        let property = match property {
            Some(p) => Some(parse_property(p, "property")?),
            None => None,
        };
        let keys = parse_index(idx, idx_file, reader.len())?;
        let by_key: std::collections::HashMap<u64, u64> = keys.iter().copied().collect();
        let offset_of = |k: u64| by_key.get(&k).copied();
        let mut identities = None;
        let mut images = keys.clone();
        if let Some(o0) = offset_of(0) {
            let (payload, _) = reader.read_at(o0)?;
            let (h, image) = decode_irecord(&payload, reader.file(), o0)?;
            if h.flag > 0 && image.is_empty() {
                let bad = |what: String| Error::format(reader.file(), Offset::Byte(o0 + 8), what);
                let (a, b) = match h.labels[..] {
                    [a, b, ..] if a >= 1.0 && b >= a && a.fract() == 0.0 && b.fract() == 0.0 => {
                        (a as u64, b as u64)
                    }
                    _ => {
                        return Err(bad(format!(
                            "identity header labels {:?} are not [a, b]",
                            h.labels
                        )))
                    }
                };
                let mut ranges = Vec::with_capacity((b - a).min(keys.len() as u64) as usize);
                for key in a..b {
                    let o = offset_of(key).ok_or_else(|| {
                        Error::format(
                            idx_file,
                            Offset::Byte(0),
                            format!("identity record key {key} is not in the index"),
                        )
                    })?;
                    let (payload, _) = reader.read_at(o)?;
                    let (ih, _) = decode_irecord(&payload, reader.file(), o)?;
                    match ih.labels[..] {
                        [s, e, ..] if s >= 1.0 && e >= s && e <= a as f32 => ranges.push(s as u64..e as u64),
                        _ => {
                            return Err(Error::format(
                                reader.file(),
                                Offset::Byte(o + 8),
                                format!("identity record {key}: labels {:?} are not [start, end) within 1..{a}", ih.labels),
                            ))
                        }
                    }
                }
                images = (1..a)
                    .map(|k| {
                        offset_of(k).map(|o| (k, o)).ok_or_else(|| {
                            Error::format(
                                idx_file,
                                Offset::Byte(0),
                                format!("image key {k} is not in the index"),
                            )
                        })
                    })
                    .collect::<Result<_>>()?;
                identities = Some(ranges);
            }
        }
        Ok(RecordPack {
            reader,
            idx_file: idx_file.to_string(),
            images,
            property,
            identities,
        })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.images.len()
    }

    pub fn is_empty(&self) -> bool {
        self.images.is_empty()
    }

    /// The class count: `property`'s C, else the identity index's, else `None`.
    pub fn classes(&self) -> Option<usize> {
        self.property
            .map(|p| p[0])
            .or_else(|| self.identities.as_ref().map(Vec::len))
    }

    /// Images per identity, from the identity index.
    pub fn identity_counts(&self) -> Option<Vec<usize>> {
        self.identities
            .as_ref()
            .map(|r| r.iter().map(|r| (r.end - r.start) as usize).collect())
    }

    /// Image `i` (in index order): its class and encoded image bytes.
    pub fn read(&mut self, i: usize) -> Result<PackRecord> {
        let (key, offset) = *self.images.get(i).ok_or_else(|| {
            Error::Invalid(format!(
                "image {i} of a pack of {} ({})",
                self.images.len(),
                self.idx_file
            ))
        })?;
        let (payload, _) = self.reader.read_at(offset)?;
        let file = self.reader.file();
        let (header, image) = decode_irecord(&payload, file, offset)?;
        let value = header.class_value();
        let classes = self.classes();
        let in_range = value >= 0.0
            && value.fract() == 0.0
            && classes.is_none_or(|c| (value as f64) < c as f64);
        if !in_range || value >= u32::MAX as f32 {
            return Err(Error::format(
                file,
                Offset::Byte(offset + 8),
                format!(
                    "record {key}: class {value} is not a whole number in [0, {})",
                    classes.map_or("?".into(), |c| c.to_string())
                ),
            ));
        }
        if ImageKind::sniff(image).is_none() {
            return Err(Error::format(
                file,
                Offset::Byte(offset + 8 + 24 + 4 * header.labels.len() as u64),
                format!(
                    "record {key}: image is empty or not JPEG/PNG (first bytes {})",
                    first_bytes_hex(image)
                ),
            ));
        }
        Ok(PackRecord {
            key,
            class: value as usize,
            image: image.to_vec(),
            header,
        })
    }

    /// The class of every image: from the identity index when there is one, else by reading
    /// each record.
    pub fn labels(&mut self) -> Result<Vec<usize>> {
        if let Some(ranges) = &self.identities {
            let mut out = vec![usize::MAX; self.images.len()];
            for (c, r) in ranges.iter().enumerate() {
                for k in r.clone() {
                    if let Some(slot) = out.get_mut(k as usize - 1) {
                        *slot = c;
                    }
                }
            }
            if let Some(i) = out.iter().position(|&c| c == usize::MAX) {
                return Err(Error::format(
                    &self.idx_file,
                    Offset::Byte(0),
                    format!("image key {} belongs to no identity", i + 1),
                ));
            }
            return Ok(out);
        }
        (0..self.len())
            .map(|i| self.read(i).map(|r| r.class))
            .collect()
    }
}

/// Writes a pack: `rec_path` (`train.rec`), `train.idx` beside it and `property`. `images` are
/// `(class, encoded image)`; with `identity_index` they must be sorted by class.
pub fn write_pack(
    rec_path: &Path,
    images: &[(usize, Vec<u8>)],
    property: [usize; 3],
    identity_index: bool,
) -> Result<()> {
    let (rec, idx) = encode_pack(images, property[0], identity_index)?;
    write_file(rec_path, &rec)?;
    write_file(&rec_path.with_extension("idx"), idx.as_bytes())?;
    let p = format!("{},{},{}", property[0], property[1], property[2]);
    write_file(&rec_path.with_file_name("property"), p.as_bytes())
}

/// The `.rec` bytes and `.idx` text of a pack (see [`write_pack`]).
pub fn encode_pack(
    images: &[(usize, Vec<u8>)],
    classes: usize,
    identity_index: bool,
) -> Result<(Vec<u8>, String)> {
    let mut w = RecordWriter::new(Vec::new(), "train.rec");
    let mut idx = String::new();
    let mut put = |w: &mut RecordWriter<Vec<u8>>, key: u64, payload: &[u8]| -> Result<()> {
        let at = w.write(payload)?;
        idx.push_str(&format!("{key}\t{at}\n"));
        Ok(())
    };
    if let Some(c) = images.iter().map(|x| x.0).find(|&c| c >= classes) {
        return Err(Error::Invalid(format!(
            "class {c} of a pack of {classes} classes"
        )));
    }
    if !identity_index {
        for (k, (class, image)) in images.iter().enumerate() {
            put(
                &mut w,
                k as u64,
                &encode_irecord(&IrHeader::image(*class, k as u64), image),
            )?;
        }
        return Ok((w.into_inner(), idx));
    }
    if images.windows(2).any(|p| p[0].0 > p[1].0) {
        return Err(Error::Invalid(
            "an identity index needs images sorted by class".into(),
        ));
    }
    let a = images.len() as u64 + 1;
    let b = a + classes as u64;
    let meta = |labels: Vec<f32>, id: u64| IrHeader {
        flag: labels.len() as u32,
        label: 0.0,
        id,
        id2: 0,
        labels,
    };
    put(
        &mut w,
        0,
        &encode_irecord(&meta(vec![a as f32, b as f32], 0), &[]),
    )?;
    for (k, (class, image)) in images.iter().enumerate() {
        let key = k as u64 + 1;
        put(
            &mut w,
            key,
            &encode_irecord(&IrHeader::image(*class, key), image),
        )?;
    }
    let mut start = 1u64;
    for c in 0..classes {
        let end = start + images.iter().filter(|x| x.0 == c).count() as u64;
        put(
            &mut w,
            a + c as u64,
            &encode_irecord(&meta(vec![start as f32, end as f32], a + c as u64), &[]),
        )?;
        start = end;
    }
    Ok((w.into_inner(), idx))
}
