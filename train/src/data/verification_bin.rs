//! insightface verification `.bin` files (`lfw.bin`, `agedb_30.bin`, `cfp_fp.bin`…),
//! DATASETS.md §1.4.
//!
//! One pickle of the tuple `(bins, issame)`: `2P` encoded images (JPEG, 112×112 aligned), pair
//! `i` = `(bins[2i], bins[2i+1])`, and `P` bools in the benchmark's fold order (so the k-fold
//! protocol of `eval::kfold` applies). It is parsed with `serde_pickle::value_from_slice`
//! without `decode_strings` (JPEGs are not UTF-8). Flavours:
//!
//! 1. **released** (Python 2, protocol 2): `80 02`, `5D` list, `71`/`72` memo, `28` MARK,
//!    `55` u8-length / `54` u32-LE-length string, `65` APPENDS per 1000 (a lone item: `61`),
//!    `88`/`89` bools, `86` TUPLE2, `2E` STOP. [`VerificationBin::encode_py2`] writes it
//!    byte-exact.
//! 2. **Python 3** (protocol 4/5): `95` FRAME (u64 LE), `43`/`42`/`8E` bytes with u8/u32/u64
//!    LE length, `94` MEMOIZE. [`VerificationBin::encode_py3`] writes protocol 4 in one frame.
//!    Python 3's protocol 2 (`_codecs.encode`) parses too.
//! 3. **numpy arrays** inside the pickle: not supported; the error asks for a re-dump.

use std::path::Path;

use serde_pickle::{DeOptions, Value};

use super::codec::{decode_image, first_bytes_hex, ImageKind};
use super::images::Images;
use super::source::read_file;
use crate::error::{Error, Offset, Result};

/// The contents of a verification `.bin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationBin {
    /// `2P` encoded images (JPEG or PNG).
    pub images: Vec<Vec<u8>>,
    /// `P` flags: pair `i` = images `2i`, `2i+1` is of one identity.
    pub issame: Vec<bool>,
}

/// What to do to turn a numpy-flavoured pickle into one this reader takes.
const REDUMP: &str = "holds numpy objects (flavour 3), which this reader does not unpickle; \
     re-dump it in Python: `bins, issame = pickle.load(f, encoding='bytes'); \
     pickle.dump(([bytes(b) for b in bins], [bool(s) for s in issame]), out, protocol=4)`";

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::None => "None",
        Value::Bool(_) => "bool",
        Value::I64(_) | Value::Int(_) => "int",
        Value::F64(_) => "float",
        Value::Bytes(_) => "bytes",
        Value::String(_) => "str",
        Value::List(_) => "list",
        Value::Tuple(_) => "tuple",
        Value::Set(_) | Value::FrozenSet(_) => "set",
        Value::Dict(_) => "dict",
    }
}

impl VerificationBin {
    /// Parses a `.bin`; `file` names it in errors.
    pub fn parse(bytes: &[u8], file: &str) -> Result<VerificationBin> {
        let at = |what: &str| Offset::Item(what.to_string());
        let numpy = bytes.windows(5).any(|w| w == b"numpy");
        let value = serde_pickle::value_from_slice(bytes, DeOptions::new()).map_err(|e| {
            if numpy {
                return Error::format(file, at("pickle"), REDUMP);
            }
            match e {
                serde_pickle::Error::Eval(code, pos) => Error::format(
                    file,
                    Offset::Byte(pos as u64),
                    format!("bad pickle: {code}"),
                ),
                serde_pickle::Error::Syntax(code) => {
                    Error::format(file, at("pickle"), format!("bad pickle: {code}"))
                }
                serde_pickle::Error::Io(source) => Error::Io {
                    file: file.to_string(),
                    source,
                },
            }
        })?;
        let top = match value {
            Value::Tuple(t) if t.len() == 2 => t,
            other => {
                return Err(Error::format(
                    file,
                    at("top level"),
                    format!("expected a tuple (bins, issame), found {}", kind_of(&other)),
                ))
            }
        };
        let mut top = top.into_iter();
        let (bins, issame) = match (top.next(), top.next()) {
            (Some(Value::List(b)), Some(Value::List(s))) => (b, s),
            (b, s) => {
                let k = |v: &Option<Value>| v.as_ref().map_or("nothing", kind_of);
                return Err(Error::format(
                    file,
                    at("top level"),
                    format!("expected (list, list), found ({}, {})", k(&b), k(&s)),
                ));
            }
        };
        if bins.len() != 2 * issame.len() {
            return Err(Error::format(
                file,
                at("top level"),
                format!(
                    "{} images for {} pairs: need 2 per pair",
                    bins.len(),
                    issame.len()
                ),
            ));
        }
        let mut flags = Vec::with_capacity(issame.len());
        for (i, v) in issame.into_iter().enumerate() {
            match v {
                Value::Bool(b) => flags.push(b),
                other => {
                    let what = format!("issame[{i}]");
                    return Err(Error::format(
                        file,
                        at(&what),
                        format!("expected bool, found {}", kind_of(&other)),
                    ));
                }
            }
        }
        let mut images = Vec::with_capacity(bins.len());
        for (i, v) in bins.into_iter().enumerate() {
            let name = format!("bins[{i}] (pair {})", i / 2);
            match v {
                Value::Bytes(b) if ImageKind::sniff(&b).is_some() => images.push(b),
                Value::Bytes(b) => {
                    return Err(Error::format(
                        file,
                        at(&name),
                        format!(
                            "not a JPEG or PNG image (first bytes {})",
                            first_bytes_hex(&b)
                        ),
                    ))
                }
                other => {
                    return Err(Error::format(
                        file,
                        at(&name),
                        format!("expected bytes, found {}", kind_of(&other)),
                    ))
                }
            }
        }
        Ok(VerificationBin {
            images,
            issame: flags,
        })
    }

    /// Reads a `.bin` file.
    pub fn read(path: &Path) -> Result<VerificationBin> {
        VerificationBin::parse(&read_file(path)?, &path.display().to_string())
    }

    /// The pairs as `(image a, image b, same)`.
    pub fn pairs(&self) -> Vec<(usize, usize, bool)> {
        self.issame
            .iter()
            .enumerate()
            .map(|(i, &s)| (2 * i, 2 * i + 1, s))
            .collect()
    }

    /// Decodes every image to `channels`; all must have the same size.
    pub fn decode_images(&self, channels: usize, file: &str) -> Result<Images> {
        let mut out = Images {
            n: 0,
            c: channels,
            h: 0,
            w: 0,
            pixels: Vec::new(),
        };
        for (i, bytes) in self.images.iter().enumerate() {
            let at = Offset::Item(format!("bins[{i}] (pair {})", i / 2));
            let im = decode_image(bytes, channels, file, at.clone())?;
            if i == 0 {
                (out.h, out.w) = (im.height, im.width);
            } else if (im.height, im.width) != (out.h, out.w) {
                return Err(Error::format(
                    file,
                    at,
                    format!(
                        "image is {}x{}, bins[0] is {}x{}",
                        im.width, im.height, out.w, out.h
                    ),
                ));
            }
            out.push_hwc(&im.pixels);
        }
        Ok(out)
    }

    fn check(&self) -> Result<()> {
        if self.images.len() != 2 * self.issame.len() {
            return Err(Error::Invalid(format!(
                "{} images for {} pairs",
                self.images.len(),
                self.issame.len()
            )));
        }
        if self.images.iter().any(|b| b.len() > i32::MAX as usize) {
            return Err(Error::Invalid("an image of 2 GiB or more".into()));
        }
        Ok(())
    }

    /// Flavour 1: Python 2's `pickle.dumps((bins, issame), protocol=2)`, byte for byte.
    pub fn encode_py2(&self) -> Result<Vec<u8>> {
        self.check()?;
        let mut p = Pickler {
            out: vec![0x80, 0x02],
            memo: 0,
            memoize_op: None,
        };
        p.list(&self.images, |p, b| {
            if b.len() < 256 {
                p.out.extend([0x55, b.len() as u8]);
            } else {
                p.out.push(0x54);
                p.out.extend((b.len() as u32).to_le_bytes());
            }
            p.out.extend_from_slice(b);
            p.memoize();
        });
        p.list(&self.issame, |p, &s| {
            p.out.push(if s { 0x88 } else { 0x89 })
        });
        p.out.push(0x86);
        p.memoize();
        p.out.push(0x2E);
        Ok(p.out)
    }

    /// Flavour 2: Python 3's `pickle.dumps((bins, issame), protocol=4)` as one frame.
    pub fn encode_py3(&self) -> Result<Vec<u8>> {
        self.check()?;
        let mut p = Pickler {
            out: Vec::new(),
            memo: 0,
            memoize_op: Some(0x94),
        };
        p.list(&self.images, |p, b| {
            let n = b.len();
            if n < 256 {
                p.out.extend([0x43, n as u8]);
            } else if n <= u32::MAX as usize {
                p.out.push(0x42);
                p.out.extend((n as u32).to_le_bytes());
            } else {
                p.out.push(0x8E);
                p.out.extend((n as u64).to_le_bytes());
            }
            p.out.extend_from_slice(b);
            p.memoize();
        });
        p.list(&self.issame, |p, &s| {
            p.out.push(if s { 0x88 } else { 0x89 })
        });
        p.out.push(0x86);
        p.memoize();
        p.out.push(0x2E);
        let mut out = vec![0x80, 0x04, 0x95];
        out.extend((p.out.len() as u64).to_le_bytes());
        out.extend(p.out);
        Ok(out)
    }
}

/// The few pickle opcodes the writers need.
struct Pickler {
    out: Vec<u8>,
    memo: u32,
    /// Protocol 4's `MEMOIZE` (`94`), or `None` for protocol 2's `BINPUT`/`LONG_BINPUT`.
    memoize_op: Option<u8>,
}

impl Pickler {
    fn memoize(&mut self) {
        match self.memoize_op {
            Some(op) => self.out.push(op),
            None if self.memo < 256 => self.out.extend([0x71, self.memo as u8]),
            None => {
                self.out.push(0x72);
                self.out.extend(self.memo.to_le_bytes());
            }
        }
        self.memo += 1;
    }

    /// `EMPTY_LIST`, memo, then Python's `_batch_appends`: batches of 1000 as
    /// `MARK items APPENDS`, a batch of one as `item APPEND`.
    fn list<T>(&mut self, items: &[T], mut save: impl FnMut(&mut Pickler, &T)) {
        self.out.push(0x5D);
        self.memoize();
        for batch in items.chunks(1000) {
            if batch.len() > 1 {
                self.out.push(0x28);
                batch.iter().for_each(|x| save(self, x));
                self.out.push(0x65);
            } else {
                save(self, &batch[0]);
                self.out.push(0x61);
            }
        }
    }
}
