//! Image files: recognising, decoding and encoding JPEG and PNG (DATASETS.md §1.2).
//!
//! The kind of an image is decided by its magic bytes, never by its name:
//!
//! | kind | magic |
//! |---|---|
//! | JPEG | `FF D8 FF` |
//! | PNG  | `89 50 4E 47 0D 0A 1A 0A` |
//!
//! Decoding goes through the `image` crate (its `png` and `jpeg` features only), with memory
//! limits so that a corrupt header cannot ask for gigabytes. Output is u8, interleaved
//! `[H, W, C]` with `C` = 3 (RGB) or 1 (grey).

use std::io::Cursor;

use image::{ImageDecoder, ImageEncoder};

use crate::error::{Error, Offset, Result};

pub const JPEG_MAGIC: [u8; 3] = [0xFF, 0xD8, 0xFF];
pub const PNG_MAGIC: [u8; 8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

/// The two encoded image kinds the readers accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    Jpeg,
    Png,
}

impl ImageKind {
    /// The kind of `bytes` by magic, or `None`.
    pub fn sniff(bytes: &[u8]) -> Option<ImageKind> {
        if bytes.starts_with(&JPEG_MAGIC) {
            Some(ImageKind::Jpeg)
        } else if bytes.starts_with(&PNG_MAGIC) {
            Some(ImageKind::Png)
        } else {
            None
        }
    }

    /// The usual file extension.
    pub fn extension(self) -> &'static str {
        match self {
            ImageKind::Jpeg => "jpg",
            ImageKind::Png => "png",
        }
    }
}

/// The first (up to) 4 bytes as hex, for error messages about unknown image data.
pub fn first_bytes_hex(bytes: &[u8]) -> String {
    let hex: Vec<String> = bytes.iter().take(4).map(|b| format!("{b:02X}")).collect();
    if hex.is_empty() {
        "(empty)".into()
    } else {
        hex.join(" ")
    }
}

/// A decoded image, interleaved `[H, W, C]` u8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedImage {
    pub width: usize,
    pub height: usize,
    pub channels: usize,
    pub pixels: Vec<u8>,
}

/// Decodes a JPEG or PNG to `channels` (1 = grey, 3 = RGB). `file` and `offset` say where the
/// image bytes start, for the error message.
pub fn decode_image(
    bytes: &[u8],
    channels: usize,
    file: &str,
    offset: Offset,
) -> Result<DecodedImage> {
    let err = |what: String| Error::format(file, offset.clone(), what);
    let kind = ImageKind::sniff(bytes).ok_or_else(|| {
        err(format!(
            "not a JPEG or PNG image (first bytes {})",
            first_bytes_hex(bytes)
        ))
    })?;
    let format = match kind {
        ImageKind::Jpeg => image::ImageFormat::Jpeg,
        ImageKind::Png => image::ImageFormat::Png,
    };
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    // 64 Mpixel RGBA at most: far above any face crop, far below what a forged header asks.
    limits.max_alloc = Some(256 << 20);
    reader.limits(limits);
    let img = reader
        .decode()
        .map_err(|e| err(format!("cannot decode {kind:?}: {e}")))?;
    let (width, height) = (img.width() as usize, img.height() as usize);
    let pixels = match channels {
        1 => img.into_luma8().into_raw(),
        3 => img.into_rgb8().into_raw(),
        c => {
            return Err(Error::Invalid(format!(
                "decode to 1 or 3 channels, not {c}"
            )))
        }
    };
    Ok(DecodedImage {
        width,
        height,
        channels,
        pixels,
    })
}

/// Encodes interleaved `[H, W, C]` u8 pixels (`C` = 1 or 3) as PNG or JPEG (`quality` 1–100).
pub fn encode_image(
    hwc: &[u8],
    width: usize,
    height: usize,
    channels: usize,
    kind: ImageKind,
    quality: u8,
) -> Result<Vec<u8>> {
    let color = match channels {
        1 => image::ExtendedColorType::L8,
        3 => image::ExtendedColorType::Rgb8,
        c => return Err(Error::Invalid(format!("encode 1 or 3 channels, not {c}"))),
    };
    if hwc.len() != width * height * channels {
        return Err(Error::Invalid(format!(
            "{} bytes are not a {width}x{height}x{channels} image",
            hwc.len()
        )));
    }
    let (w, h) = (width as u32, height as u32);
    let mut out = Vec::new();
    let res = match kind {
        ImageKind::Png => {
            image::codecs::png::PngEncoder::new(&mut out).write_image(hwc, w, h, color)
        }
        ImageKind::Jpeg => image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
            .write_image(hwc, w, h, color),
    };
    res.map_err(|e| Error::Invalid(format!("cannot encode {kind:?}: {e}")))?;
    Ok(out)
}

/// Width and height from an image header, without decoding the pixels.
pub fn image_dimensions(bytes: &[u8]) -> Option<(usize, usize)> {
    let kind = ImageKind::sniff(bytes)?;
    let cursor = Cursor::new(bytes);
    let dims = match kind {
        ImageKind::Png => image::codecs::png::PngDecoder::new(cursor)
            .ok()?
            .dimensions(),
        ImageKind::Jpeg => image::codecs::jpeg::JpegDecoder::new(cursor)
            .ok()?
            .dimensions(),
    };
    Some((dims.0 as usize, dims.1 as usize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_is_lossless_jpeg_is_close() {
        let (w, h) = (8, 6);
        let rgb: Vec<u8> = (0..w * h * 3).map(|i| (i * 5 % 256) as u8).collect();
        let png = encode_image(&rgb, w, h, 3, ImageKind::Png, 0).unwrap();
        assert_eq!(ImageKind::sniff(&png), Some(ImageKind::Png));
        assert_eq!(image_dimensions(&png), Some((8, 6)));
        let back = decode_image(&png, 3, "a.png", Offset::Byte(0)).unwrap();
        assert_eq!(back.pixels, rgb);
        let flat = vec![128u8; w * h];
        let jpg = encode_image(&flat, w, h, 1, ImageKind::Jpeg, 95).unwrap();
        assert_eq!(ImageKind::sniff(&jpg), Some(ImageKind::Jpeg));
        let back = decode_image(&jpg, 1, "a.jpg", Offset::Byte(0)).unwrap();
        assert!(back.pixels.iter().all(|&v| v.abs_diff(128) <= 2));
    }

    #[test]
    fn unknown_and_corrupt_images_are_errors() {
        let e = decode_image(b"GIF89a", 3, "x.gif", Offset::Byte(12)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "x.gif: byte 12: not a JPEG or PNG image (first bytes 47 49 46 38)"
        );
        let e = decode_image(&PNG_MAGIC, 3, "x.png", Offset::Byte(0)).unwrap_err();
        assert!(e.to_string().contains("cannot decode Png"), "{e}");
    }
}
