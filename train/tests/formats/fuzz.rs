//! No reader panics on any input: valid files, randomly mutated and truncated over many seeds
//! (a plain loop with the project RNG). A panic fails the test and names the seed and format.

use std::io::Cursor;
use std::panic::{catch_unwind, AssertUnwindSafe};

use anglegrad_train::data::codec::{decode_image, encode_image, ImageKind};
use anglegrad_train::data::idx::{encode_idx, images_to_idx, parse_idx};
use anglegrad_train::data::mxpack::{
    encode_irecord, encode_pack, parse_index, parse_property, IrHeader, RecordPack,
};
use anglegrad_train::data::pairs::PairList;
use anglegrad_train::data::recordio::{RecordReader, MAGIC};
use anglegrad_train::data::source::gzip;
use anglegrad_train::data::verification_bin::VerificationBin;
use anglegrad_train::data::{Images, Rng};
use anglegrad_train::Offset;

/// Applies 1–4 random edits: flip a byte, set a byte to a boundary value, cut, insert, or
/// copy a chunk elsewhere (which repeats headers and lengths).
fn mutate(bytes: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut b = bytes.to_vec();
    for _ in 0..1 + rng.below(4) {
        let n = b.len().max(1);
        match rng.below(6) {
            0 if !b.is_empty() => {
                let i = rng.below(n);
                b[i] ^= 1 << rng.below(8);
            }
            1 if !b.is_empty() => {
                let i = rng.below(n);
                b[i] = [0x00, 0xFF, 0x7F, 0x80, 0x0A, 0x09][rng.below(6)];
            }
            2 => b.truncate(rng.below(n + 1)),
            3 => {
                let i = rng.below(b.len() + 1);
                let extra: Vec<u8> = (0..1 + rng.below(8))
                    .map(|_| rng.next_u64() as u8)
                    .collect();
                b.splice(i..i, extra);
            }
            4 if b.len() > 4 => {
                let (from, len) = (rng.below(b.len()), 1 + rng.below(16));
                let chunk: Vec<u8> = b[from..(from + len).min(b.len())].to_vec();
                let to = rng.below(b.len());
                b.splice(to..to, chunk);
            }
            _ => b.truncate(b.len().saturating_sub(1)),
        }
    }
    b
}

fn valid_files() -> Vec<(&'static str, Vec<u8>)> {
    let images = Images::new(3, 1, 4, 4, (0..48).collect()).unwrap();
    let idx = encode_idx(&images_to_idx(&images).unwrap()).unwrap();
    let png = encode_image(&[90u8; 8 * 8 * 3], 8, 8, 3, ImageKind::Png, 0).unwrap();
    let jpg = encode_image(&[90u8; 8 * 8 * 3], 8, 8, 3, ImageKind::Jpeg, 90).unwrap();
    let bin = VerificationBin {
        images: vec![jpg.clone(), png.clone(), png.clone(), jpg.clone()],
        issame: vec![true, false],
    };
    let (rec, idx_text) = encode_pack(
        &[(0, png.clone()), (1, jpg.clone()), (1, png.clone())],
        2,
        true,
    )
    .unwrap();
    let magic_header = IrHeader {
        flag: 1,
        label: 0.0,
        id: MAGIC as u64,
        id2: MAGIC as u64,
        labels: vec![1.0],
    };
    let split =
        anglegrad_train::data::recordio::encode_record(&encode_irecord(&magic_header, &png))
            .unwrap();
    vec![
        ("idx", idx.clone()),
        ("idx.gz", gzip(&idx)),
        ("pairs", b"2 1\nA 1 2\nA 1 B 3\nB 2 4\nC 1 D 1\n".to_vec()),
        ("bin1", bin.encode_py2().unwrap()),
        ("bin2", bin.encode_py3().unwrap()),
        ("rec", rec),
        ("rec-split", split),
        ("idx-text", idx_text.into_bytes()),
        ("property", b"2,4,4\n".to_vec()),
        ("png", png),
        ("jpg", jpg),
    ]
}

/// Runs the reader of `kind` on `bytes`; returns whether every step succeeded. On mutated
/// files only a panic matters: errors are the expected outcome.
fn read(kind: &str, bytes: Vec<u8>, rec_idx: &[u8]) -> bool {
    let len = bytes.len() as u64;
    match kind {
        "idx" | "idx.gz" => parse_idx(bytes, "f").is_ok(),
        "pairs" => PairList::parse(&bytes, "f").is_ok(),
        "bin1" | "bin2" => {
            VerificationBin::parse(&bytes, "f").is_ok_and(|b| b.decode_images(3, "f").is_ok())
        }
        "rec" | "rec-split" => {
            let scanned = RecordReader::new(Cursor::new(bytes.clone()), len, "f")
                .read_all()
                .is_ok();
            let reader = RecordReader::new(Cursor::new(bytes), len, "f");
            let idx: &[u8] = if kind == "rec" { rec_idx } else { b"0\t0\n" };
            let packed =
                RecordPack::new(reader, idx, "f.idx", Some(b"2,4,4")).is_ok_and(|mut pack| {
                    let labels = pack.labels().is_ok();
                    (0..pack.len()).all(|i| pack.read(i).is_ok()) && labels
                });
            scanned && packed
        }
        "idx-text" => parse_index(&bytes, "f", 1 << 20).is_ok(),
        "property" => parse_property(&bytes, "f").is_ok(),
        _ => decode_image(&bytes, 3, "f", Offset::Byte(0)).is_ok(),
    }
}

#[test]
fn no_reader_panics_on_mutated_files() {
    let files = valid_files();
    let rec_idx = files.iter().find(|f| f.0 == "idx-text").unwrap().1.clone();
    for seed in 0..1000u64 {
        let mut rng = Rng::keyed(0xF022, seed, 0, 0);
        for (kind, valid) in &files {
            let bytes = mutate(valid, &mut rng);
            let outcome = catch_unwind(AssertUnwindSafe(|| read(kind, bytes.clone(), &rec_idx)));
            assert!(
                outcome.is_ok(),
                "{kind} reader panicked on seed {seed}: {bytes:02X?}"
            );
        }
    }
}

#[test]
fn every_valid_file_reads() {
    let files = valid_files();
    let rec_idx = files.iter().find(|f| f.0 == "idx-text").unwrap().1.clone();
    for (kind, valid) in &files {
        // The unmutated files pass every step of the same readers, so the mutations start
        // from files that reach deep into each parser.
        assert!(
            read(kind, valid.clone(), &rec_idx),
            "valid {kind} file failed to read"
        );
    }
}
