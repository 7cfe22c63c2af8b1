use anglegrad_train::data::idx::*;
use anglegrad_train::data::source::gzip;
use anglegrad_train::data::Images;

use crate::{assert_err, temp_dir};

fn sample_images() -> Images {
    let pixels: Vec<u8> = (0..2 * 3 * 4 * 5).map(|v| (v * 7 % 256) as u8).collect();
    Images::new(2, 3, 4, 5, pixels).unwrap()
}

#[test]
fn round_trip_every_type_raw_and_gzip() {
    let arrays = [
        IdxArray {
            dims: vec![3],
            data: IdxData::U8(vec![1, 2, 255]),
        },
        IdxArray {
            dims: vec![2, 2],
            data: IdxData::I8(vec![-1, 2, -128, 127]),
        },
        IdxArray {
            dims: vec![2],
            data: IdxData::I16(vec![-300, 300]),
        },
        IdxArray {
            dims: vec![1, 2],
            data: IdxData::I32(vec![-70000, 1 << 30]),
        },
        IdxArray {
            dims: vec![2, 1],
            data: IdxData::F32(vec![0.5, -1e-3]),
        },
        IdxArray {
            dims: vec![1],
            data: IdxData::F64(vec![std::f64::consts::PI]),
        },
    ];
    for a in arrays {
        let bytes = encode_idx(&a).unwrap();
        assert_eq!(parse_idx(bytes.clone(), "a").unwrap(), a);
        assert_eq!(parse_idx(gzip(&bytes), "a.gz").unwrap(), a);
    }
}

#[test]
fn big_endian_layout_by_hand() {
    let a = IdxArray {
        dims: vec![2],
        data: IdxData::I16(vec![1, -2]),
    };
    assert_eq!(
        encode_idx(&a).unwrap(),
        [0, 0, 0x0B, 1, 0, 0, 0, 2, 0x00, 0x01, 0xFF, 0xFE]
    );
}

#[test]
fn dataset_round_trip_rgb_and_grey_with_i32_labels() {
    let dir = temp_dir("idx-dataset");
    let im = sample_images();
    let (ip, lp) = (dir.join("im.idx.gz"), dir.join("lb.idx"));
    write_idx(&ip, &images_to_idx(&im).unwrap()).unwrap();
    write_idx(&lp, &labels_to_idx(&[0, 300]).unwrap()).unwrap();
    assert_eq!(
        std::fs::read(&lp).unwrap()[2],
        0x0C,
        "labels past 256 classes are i32"
    );
    let ds = read_idx_dataset(&ip, &lp, 301).unwrap();
    assert_eq!(ds.images, im);
    assert_eq!(ds.labels, vec![0, 300]);
    assert_err(
        read_idx_dataset(&ip, &lp, 300),
        "lb.idx: byte 12: label 300 of image 1",
    );

    let grey = Images::new(3, 1, 2, 2, (0..12).collect()).unwrap();
    write_idx(&ip, &images_to_idx(&grey).unwrap()).unwrap();
    write_idx(&lp, &labels_to_idx(&[0, 1, 2]).unwrap()).unwrap();
    assert_eq!(read_idx_dataset(&ip, &lp, 3).unwrap().images, grey);
    write_idx(&lp, &labels_to_idx(&[0, 1]).unwrap()).unwrap();
    assert_err(
        read_idx_dataset(&ip, &lp, 3),
        "im.idx.gz: byte 4 (decompressed): holds 3 images but",
    );
    assert_err(read_idx_dataset(&ip, &lp, 3), "lb.idx holds 2 labels");
}

#[test]
fn cut_at_each_header_boundary_and_one_byte_short() {
    // Header boundaries: after the zero bytes (2), the type (3), ND (4), each dim (8, 12).
    let a = IdxArray {
        dims: vec![2, 3],
        data: IdxData::U8(vec![9; 6]),
    };
    let bytes = encode_idx(&a).unwrap();
    let cases = [
        (0, "byte 0: truncated IDX magic"),
        (1, "byte 0: truncated IDX magic"),
        (2, "byte 2: truncated IDX type"),
        (3, "byte 3: truncated IDX dimension count"),
        (4, "byte 4: truncated IDX dims"),
        (7, "byte 4: truncated IDX dims"),
        (8, "byte 8: truncated IDX dims"),
        (11, "byte 8: truncated IDX dims"),
        (
            12,
            "byte 12: truncated: data of dims [2, 3] needs 6 bytes from byte 12, 0 present",
        ),
        (
            17,
            "byte 17: truncated: data of dims [2, 3] needs 6 bytes from byte 12, 5 present",
        ),
    ];
    for (cut, msg) in cases {
        assert_err(parse_idx(bytes[..cut].to_vec(), "a"), &format!("a: {msg}"));
        let gz = gzip(&bytes[..cut]);
        assert_err(
            parse_idx(gz, "a.gz"),
            &format!("a.gz: {}", msg.replacen(':', " (decompressed):", 1)),
        );
    }
}

#[test]
fn wrong_magic_type_dims_and_trailing_bytes() {
    let a = IdxArray {
        dims: vec![2],
        data: IdxData::U8(vec![1, 2]),
    };
    let good = encode_idx(&a).unwrap();
    let mut bad = good.clone();
    bad[1] = 8;
    assert_err(
        parse_idx(bad, "a"),
        "a: byte 0: bad IDX magic: bytes 0-1 are 00 08",
    );
    let mut bad = good.clone();
    bad[2] = 0x0A;
    assert_err(
        parse_idx(bad, "a"),
        "a: byte 2: unknown IDX element type 0x0A",
    );
    let mut bad = good.clone();
    bad[3] = 0;
    assert_err(parse_idx(bad, "a"), "a: byte 3: IDX dimension count is 0");
    let mut bad = good.clone();
    bad.push(0);
    assert_err(
        parse_idx(bad, "a"),
        "a: byte 10: trailing bytes: 1 after the data",
    );
    // A length past the end: dims claim 2^32-1 elements.
    let mut bad = good.clone();
    bad[4..8].copy_from_slice(&[0xFF; 4]);
    assert_err(
        parse_idx(bad, "a"),
        "a: byte 10: truncated: data of dims [4294967295] needs 4294967295 bytes",
    );
    // Dims whose product overflows usize fail before any allocation.
    let mut huge = vec![0, 0, 0x0E, 4];
    for _ in 0..4 {
        huge.extend_from_slice(&[0xFF; 4]);
    }
    assert_err(parse_idx(huge, "a"), "a: byte 4: dims");
}
