//! Generates a synthetic preset, prints its size, timing and raw-pixel verification floor, and
//! writes a contact sheet (first images of the first identities) as PNG.
//!
//! ```text
//! cargo run --release -p anglegrad-train --example synthetic_preview -- face112 /tmp/sheet.png
//! ```

use anglegrad_train::data::align::align_face;
use anglegrad_train::data::codec::{encode_image, ImageKind};
use anglegrad_train::data::synthetic::{SyntheticConfig, SyntheticSet};
use anglegrad_train::Result;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let preset = args.get(1).map_or("small", String::as_str);
    let out = args.get(2).map_or("synthetic_sheet.png", String::as_str);
    let cfg = SyntheticConfig::preset(preset)?;
    let start = std::time::Instant::now();
    let set = SyntheticSet::generate(&cfg)?;
    println!(
        "{preset}: {} training samples of {} identities, {} verification samples, {} pairs, in {:.2?}",
        set.len(),
        set.identities,
        set.verification.samples.len(),
        set.verification.pairs.len(),
        start.elapsed()
    );
    println!("raw pixels: {}", set.verification.raw_pixel_report()?);
    // A floor that needs no learning but knows where the face is: each image aligned by its
    // landmarks, then standardised (zero mean, unit variance), then compared by cosine.
    let v = &set.verification;
    let im = v.samples.images().expect("image mode");
    let mut feats = Vec::with_capacity(im.n * im.image_len());
    for i in 0..im.n {
        let (aligned, _) = align_face(im.image(i), im.c, im.h, im.w, &v.landmarks[i], im.h)?;
        let mean = aligned.iter().map(|&x| x as f32).sum::<f32>() / aligned.len() as f32;
        feats.extend(aligned.iter().map(|&x| x as f32 - mean));
    }
    println!(
        "aligned, standardised pixels: {}",
        v.report(&feats, im.image_len())?
    );
    let vector = SyntheticSet::generate(&cfg.clone().vector_mode())?;
    println!(
        "vector mode raw: {}",
        vector.verification.raw_pixel_report()?
    );

    let im = set.samples.images().expect("image mode");
    // Rows: identities 0..8; columns: their first 8 samples (repeating when fewer).
    let (rows, cols) = (8, 8);
    let (s, c) = (im.h, im.c);
    let mut sheet = vec![0u8; rows * cols * s * s * c];
    let mut first = 0;
    for row in 0..rows {
        let n = set.counts[row];
        for col in 0..cols {
            let hwc = im.image_hwc(first + col % n);
            for y in 0..s {
                let dst = ((row * s + y) * cols * s + col * s) * c;
                sheet[dst..dst + s * c].copy_from_slice(&hwc[y * s * c..(y + 1) * s * c]);
            }
        }
        first += n;
    }
    let png = encode_image(&sheet, cols * s, rows * s, c, ImageKind::Png, 0)?;
    std::fs::write(out, png).map_err(|e| anglegrad_train::Error::io(out.as_ref(), e))?;
    println!("wrote {out}");
    Ok(())
}
