//! IDX files (MNIST, Fashion-MNIST), raw or gzip (DATASETS.md §1.1).
//!
//! | offset   | bytes       | field                                                   |
//! |----------|-------------|---------------------------------------------------------|
//! | 0        | 2           | `00 00`                                                 |
//! | 2        | 1           | type: `08` u8, `09` i8, `0B` i16, `0C` i32, `0D` f32, `0E` f64 |
//! | 3        | 1           | ND ≥ 1                                                  |
//! | 4        | 4·ND        | dims, u32 big-endian                                    |
//! | 4+4·ND   | Πdims·size  | data, row-major (last index fastest), big-endian        |
//!
//! Images are `00 00 08 03` `[N, 28, 28]` u8, labels `00 00 08 01` `[N]` u8. The writer makes
//! `[N, H, W(, 3)]` u8 images, `[N, D]` f32 vectors, and labels as u8 (i32 past 256 classes).

use std::path::Path;

use crate::data::bytes::{checked_volume, ByteReader};
use crate::data::images::Images;
use crate::data::source::{gunzip_if_needed, read_file, write_file};
use crate::error::{Error, Offset, Result};

/// The element values of an IDX array, in file order.
#[derive(Debug, Clone, PartialEq)]
pub enum IdxData {
    U8(Vec<u8>),
    I8(Vec<i8>),
    I16(Vec<i16>),
    I32(Vec<i32>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

impl IdxData {
    /// The IDX type code of these values.
    pub fn type_code(&self) -> u8 {
        match self {
            IdxData::U8(_) => 0x08,
            IdxData::I8(_) => 0x09,
            IdxData::I16(_) => 0x0B,
            IdxData::I32(_) => 0x0C,
            IdxData::F32(_) => 0x0D,
            IdxData::F64(_) => 0x0E,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            IdxData::U8(v) => v.len(),
            IdxData::I8(v) => v.len(),
            IdxData::I16(v) => v.len(),
            IdxData::I32(v) => v.len(),
            IdxData::F32(v) => v.len(),
            IdxData::F64(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Element `i` as f64 (labels of any integer type read through this).
    pub fn get_f64(&self, i: usize) -> f64 {
        match self {
            IdxData::U8(v) => v[i] as f64,
            IdxData::I8(v) => v[i] as f64,
            IdxData::I16(v) => v[i] as f64,
            IdxData::I32(v) => v[i] as f64,
            IdxData::F32(v) => v[i] as f64,
            IdxData::F64(v) => v[i],
        }
    }
}

/// Bytes per element of an IDX type code, `None` for an unknown code.
fn element_size(code: u8) -> Option<usize> {
    match code {
        0x08 | 0x09 => Some(1),
        0x0B => Some(2),
        0x0C | 0x0D => Some(4),
        0x0E => Some(8),
        _ => None,
    }
}

/// An n-dimensional IDX array.
#[derive(Debug, Clone, PartialEq)]
pub struct IdxArray {
    pub dims: Vec<usize>,
    pub data: IdxData,
}

/// Parses an IDX file (gzip or raw); `file` names it in errors.
pub fn parse_idx(bytes: Vec<u8>, file: &str) -> Result<IdxArray> {
    Ok(parse_idx_marked(bytes, file)?.0)
}

/// [`parse_idx`], also telling whether the file was gzip (offsets then count decompressed bytes).
fn parse_idx_marked(bytes: Vec<u8>, file: &str) -> Result<(IdxArray, bool)> {
    let (bytes, decompressed) = gunzip_if_needed(bytes, file)?;
    let mut r = ByteReader::new(&bytes, file, decompressed);
    let zero = r.array::<2>("IDX magic")?;
    if zero != [0, 0] {
        return Err(r.error_at(
            0,
            format!(
                "bad IDX magic: bytes 0-1 are {:02X} {:02X}, not 00 00",
                zero[0], zero[1]
            ),
        ));
    }
    let code = r.u8("IDX type")?;
    let size = element_size(code)
        .ok_or_else(|| r.error_at(2, format!("unknown IDX element type 0x{code:02X}")))?;
    let nd = r.u8("IDX dimension count")? as usize;
    if nd == 0 {
        return Err(r.error_at(3, "IDX dimension count is 0"));
    }
    let mut dims = Vec::with_capacity(nd);
    for _ in 0..nd {
        dims.push(r.u32_be("IDX dims")? as usize);
    }
    let start = r.pos();
    let need = checked_volume(&dims, size)
        .ok_or_else(|| r.error_at(4, format!("dims {dims:?} overflow")))?;
    if need > r.remaining() {
        return Err(r.error_at(
            bytes.len(),
            format!(
                "truncated: data of dims {dims:?} needs {need} bytes from byte {start}, {} present",
                r.remaining()
            ),
        ));
    }
    if need < r.remaining() {
        return Err(r.error_at(
            start + need,
            format!("trailing bytes: {} after the data", r.remaining() - need),
        ));
    }
    let raw = r.take(need, "IDX data")?;
    let data = match code {
        0x08 => IdxData::U8(raw.to_vec()),
        0x09 => IdxData::I8(raw.iter().map(|&b| b as i8).collect()),
        0x0B => IdxData::I16(
            raw.chunks_exact(2)
                .map(|c| i16::from_be_bytes([c[0], c[1]]))
                .collect(),
        ),
        0x0C => IdxData::I32(
            raw.chunks_exact(4)
                .map(|c| i32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ),
        0x0D => IdxData::F32(
            raw.chunks_exact(4)
                .map(|c| f32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ),
        _ => IdxData::F64(
            raw.chunks_exact(8)
                .map(|c| f64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect(),
        ),
    };
    Ok((IdxArray { dims, data }, decompressed))
}

/// Reads an IDX file, raw or gzip.
pub fn read_idx(path: &Path) -> Result<IdxArray> {
    parse_idx(read_file(path)?, &path.display().to_string())
}

/// Encodes an IDX array (raw, not compressed).
pub fn encode_idx(array: &IdxArray) -> Result<Vec<u8>> {
    if array.dims.is_empty() || array.dims.len() > 255 {
        return Err(Error::Invalid(format!(
            "IDX needs 1..=255 dims, got {}",
            array.dims.len()
        )));
    }
    if checked_volume(&array.dims, 1) != Some(array.data.len()) {
        return Err(Error::Invalid(format!(
            "IDX dims {:?} do not hold {} values",
            array.dims,
            array.data.len()
        )));
    }
    let mut out = vec![0, 0, array.data.type_code(), array.dims.len() as u8];
    for &d in &array.dims {
        let d = u32::try_from(d).map_err(|_| Error::Invalid(format!("IDX dim {d} exceeds u32")))?;
        out.extend_from_slice(&d.to_be_bytes());
    }
    match &array.data {
        IdxData::U8(v) => out.extend_from_slice(v),
        IdxData::I8(v) => out.extend(v.iter().map(|&x| x as u8)),
        IdxData::I16(v) => v.iter().for_each(|x| out.extend(x.to_be_bytes())),
        IdxData::I32(v) => v.iter().for_each(|x| out.extend(x.to_be_bytes())),
        IdxData::F32(v) => v.iter().for_each(|x| out.extend(x.to_be_bytes())),
        IdxData::F64(v) => v.iter().for_each(|x| out.extend(x.to_be_bytes())),
    }
    Ok(out)
}

/// Writes an IDX file; gzip-compressed when `path` ends in `.gz`.
pub fn write_idx(path: &Path, array: &IdxArray) -> Result<()> {
    let raw = encode_idx(array)?;
    let gz = path.extension().is_some_and(|e| e == "gz");
    write_file(
        path,
        &if gz {
            crate::data::source::gzip(&raw)
        } else {
            raw
        },
    )
}

/// Images as IDX: `[N, H, W]` u8 for one channel, `[N, H, W, 3]` for RGB.
pub fn images_to_idx(images: &Images) -> Result<IdxArray> {
    let mut data = Vec::with_capacity(images.pixels.len());
    for i in 0..images.n {
        data.extend(images.image_hwc(i));
    }
    let dims = match images.c {
        1 => vec![images.n, images.h, images.w],
        3 => vec![images.n, images.h, images.w, 3],
        c => {
            return Err(Error::Invalid(format!(
                "IDX images need 1 or 3 channels, got {c}"
            )))
        }
    };
    Ok(IdxArray {
        dims,
        data: IdxData::U8(data),
    })
}

/// Labels as IDX `[N]`: u8 when every label is below 256, i32 otherwise.
pub fn labels_to_idx(labels: &[usize]) -> Result<IdxArray> {
    let data = if labels.iter().all(|&l| l < 256) {
        IdxData::U8(labels.iter().map(|&l| l as u8).collect())
    } else {
        IdxData::I32(
            labels
                .iter()
                .map(|&l| i32::try_from(l).map_err(|_| Error::Invalid(format!("label {l}"))))
                .collect::<Result<_>>()?,
        )
    };
    Ok(IdxArray {
        dims: vec![labels.len()],
        data,
    })
}

/// An image classification set read from a pair of IDX files.
#[derive(Debug, Clone)]
pub struct IdxDataset {
    pub images: Images,
    pub labels: Vec<usize>,
    pub classes: usize,
}

/// Reads `[N, H, W(, 3)]` u8 images and `[N]` integer labels in `[0, classes)`.
pub fn read_idx_dataset(
    images_path: &Path,
    labels_path: &Path,
    classes: usize,
) -> Result<IdxDataset> {
    let im_name = images_path.display().to_string();
    let lb_name = labels_path.display().to_string();
    let (images, im_gz) = parse_idx_marked(read_file(images_path)?, &im_name)?;
    let (labels, lb_gz) = parse_idx_marked(read_file(labels_path)?, &lb_name)?;
    let at = |gz: bool, byte: usize| {
        if gz {
            Offset::Decompressed(byte as u64)
        } else {
            Offset::Byte(byte as u64)
        }
    };
    let pixels = match images.data {
        IdxData::U8(p) => p,
        other => {
            return Err(Error::format(
                &im_name,
                at(im_gz, 2),
                format!(
                    "images must be u8 (type 0x08), found type 0x{:02X}",
                    other.type_code()
                ),
            ))
        }
    };
    let (n, h, w, c) = match images.dims[..] {
        [n, h, w] => (n, h, w, 1),
        [n, h, w, 3] => (n, h, w, 3),
        ref d => {
            return Err(Error::format(
                &im_name,
                at(im_gz, 3),
                format!("images must be [N, H, W(, 3)], found {d:?}"),
            ))
        }
    };
    if labels.dims.len() != 1 || matches!(labels.data, IdxData::F32(_) | IdxData::F64(_)) {
        return Err(Error::format(
            &lb_name,
            at(lb_gz, 2),
            "labels must be one integer dimension [N]",
        ));
    }
    if labels.dims[0] != n {
        return Err(Error::format(
            &im_name,
            at(im_gz, 4),
            format!(
                "holds {n} images but {lb_name} holds {} labels",
                labels.dims[0]
            ),
        ));
    }
    let mut out = Images::new(0, c, h, w, Vec::with_capacity(pixels.len()))?;
    for hwc in pixels.chunks_exact(h * w * c) {
        out.push_hwc(hwc);
    }
    let data_start = 4 + 4 * labels.dims.len();
    let elem = element_size(labels.data.type_code()).unwrap_or(1);
    let mut ys = Vec::with_capacity(n);
    for i in 0..n {
        let v = labels.data.get_f64(i);
        if v < 0.0 || v >= classes as f64 {
            return Err(Error::format(
                &lb_name,
                at(lb_gz, data_start + i * elem),
                format!("label {v} of image {i} is outside 0..{classes}"),
            ));
        }
        ys.push(v as usize);
    }
    Ok(IdxDataset {
        images: out,
        labels: ys,
        classes,
    })
}
