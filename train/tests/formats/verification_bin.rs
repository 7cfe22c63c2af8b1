use anglegrad_train::data::codec::{encode_image, ImageKind};
use anglegrad_train::data::verification_bin::VerificationBin;

use crate::assert_err;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Four fake JPEGs `FF D8 FF` + 3 × i, issame [True, False].
fn tiny() -> VerificationBin {
    VerificationBin {
        images: (0..4u8).map(|i| vec![0xFF, 0xD8, 0xFF, i, i, i]).collect(),
        issame: vec![true, false],
    }
}

#[test]
fn flavour1_layout_by_hand() {
    // 80 02 | 5D 71 00 | 28 (55 06 <6 bytes> 71 nn) x4 65 | 5D 71 05 28 88 89 65 | 86 71 06 | 2E
    let b = tiny().encode_py2().unwrap();
    let mut want = hex("80025d710028");
    for i in 0..4u8 {
        want.extend([0x55, 6, 0xFF, 0xD8, 0xFF, i, i, i, 0x71, i + 1]);
    }
    want.extend(hex("655d710528888965867106"));
    want.push(0x2E);
    assert_eq!(b, want);
    assert_eq!(VerificationBin::parse(&b, "lfw.bin").unwrap(), tiny());
}

#[test]
fn flavour1_long_strings_lone_items_and_long_memo() {
    // 1001 pairs: images of 300 bytes (BINSTRING `54`), a batch of 1000 then a lone APPEND,
    // memo ids past 255 (LONG_BINPUT `72`).
    let big = VerificationBin {
        images: (0..2002)
            .map(|i| {
                let mut v = vec![0xFF, 0xD8, 0xFF];
                v.extend(vec![(i % 251) as u8; 297]);
                v
            })
            .collect(),
        issame: (0..1001).map(|i| i % 3 == 0).collect(),
    };
    let b = big.encode_py2().unwrap();
    assert_eq!(b[6..11], [0x54, 0x2C, 0x01, 0x00, 0x00]);
    assert!(
        b.windows(5).any(|w| w == [0x72, 0x00, 0x01, 0x00, 0x00]),
        "LONG_BINPUT 256"
    );
    assert_eq!(VerificationBin::parse(&b, "x").unwrap(), big);
    assert_eq!(
        VerificationBin::parse(&big.encode_py3().unwrap(), "x").unwrap(),
        big
    );
}

#[test]
fn flavour2_matches_python3_byte_for_byte() {
    // Python 3.11: pickle.dumps((bins, issame), protocol=4) of tiny().
    let python = hex("80049531000000000000005d94284306ffd8ff000000944306ffd8ff010101944306ffd8ff020202944306ffd8ff03030394655d942888896586942e");
    assert_eq!(tiny().encode_py3().unwrap(), python);
}

#[test]
fn python3_protocol2_with_codecs_encode_parses() {
    // Python 3.11: pickle.dumps((bins, issame), protocol=2): bytes as _codecs.encode(str, 'latin1').
    let python = hex("80025d710028635f636f646563730a656e636f64650a71015809000000c3bfc398c3bf000000710258060000006c6174696e31710386710452710568015809000000c3bfc398c3bf0101017106680386710752710868015809000000c3bfc398c3bf0202027109680386710a52710b68015809000000c3bfc398c3bf030303710c680386710d52710e655d710f288889658671102e");
    assert_eq!(VerificationBin::parse(&python, "x").unwrap(), tiny());
}

#[test]
fn numpy_flavour3_asks_for_a_redump() {
    // Made once with Python 3.11 + numpy 2.4:
    // pickle.dumps(([np.frombuffer(b, np.uint8) for b in bins], np.array(issame)), protocol=2)
    let bytes = include_bytes!("../fixtures/numpy_flavour3.bin");
    assert_err(
        VerificationBin::parse(bytes, "cfp_fp.bin"),
        "cfp_fp.bin: pickle: holds numpy objects (flavour 3)",
    );
    assert_err(
        VerificationBin::parse(bytes, "cfp_fp.bin"),
        "re-dump it in Python",
    );
}

#[test]
fn structure_errors_name_the_element() {
    let mut bad = tiny();
    bad.images[3] = b"GIF89a".to_vec();
    let b = bad.encode_py2().unwrap();
    assert_err(
        VerificationBin::parse(&b, "lfw.bin"),
        "lfw.bin: bins[3] (pair 1): not a JPEG or PNG image (first bytes 47 49 46 38)",
    );
    let mut bad = tiny();
    bad.issame.push(true);
    assert!(
        bad.encode_py2().is_err(),
        "the writer refuses 4 images for 3 pairs"
    );
    // A 2-tuple of (list, list) with 3 images for 2 pairs.
    let mut b = hex("80025d7100284306ffd8ff0000004306ffd8ff0101014306ffd8ff02020265");
    b.extend(hex("5d7101288889658671022e"));
    assert_err(
        VerificationBin::parse(&b, "x"),
        "x: top level: 3 images for 2 pairs: need 2 per pair",
    );
    // issame holding an int.
    let b = hex(
        "80025d7100284306ffd8ff0000004306ffd8ff01010165", /* 2 images */
    )
    .into_iter()
    .chain(hex("5d71014b01618671022e"))
    .collect::<Vec<u8>>();
    assert_err(
        VerificationBin::parse(&b, "x"),
        "x: issame[0]: expected bool, found int",
    );
    // Top level not a tuple.
    assert_err(
        VerificationBin::parse(&hex("80025d71002e"), "x"),
        "x: top level: expected a tuple (bins, issame), found list",
    );
}

#[test]
fn cut_at_each_boundary_and_one_byte_short() {
    let b = tiny().encode_py2().unwrap();
    // Header (2), list + memo (5), MARK (6), first string header (8), end - 1.
    for cut in [0, 1, 2, 5, 6, 8, 13, b.len() - 1] {
        let e = VerificationBin::parse(&b[..cut], "lfw.bin")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("lfw.bin: byte "), "cut {cut}: {e}");
        assert!(
            e.contains("EOF while parsing") || e.contains("stack underflow"),
            "cut {cut}: {e}"
        );
    }
    // A string length past the end: 54 FF FF FF 7F claims 2 GiB.
    let mut long = b[..6].to_vec();
    long.extend([0x54, 0xFF, 0xFF, 0xFF, 0x7F, 0xFF, 0xD8]);
    assert_err(
        VerificationBin::parse(&long, "lfw.bin"),
        "lfw.bin: byte 11: bad pickle: EOF while parsing",
    );
    // Wrong magic: protocol byte ok but an unknown opcode.
    let mut bad = b.clone();
    bad[2] = 0xFE;
    assert_err(
        VerificationBin::parse(&bad, "lfw.bin"),
        "lfw.bin: byte 3: bad pickle: unsupported opcode",
    );
}

#[test]
fn real_images_decode() {
    let png = encode_image(&[7u8; 8 * 8 * 3], 8, 8, 3, ImageKind::Png, 0).unwrap();
    let bin = VerificationBin {
        images: vec![png.clone(), png],
        issame: vec![true],
    };
    let back = VerificationBin::parse(&bin.encode_py3().unwrap(), "x").unwrap();
    let im = back.decode_images(3, "x").unwrap();
    assert_eq!((im.n, im.h, im.w, im.pixels[0]), (2, 8, 8, 7));
    assert_eq!(back.pairs(), vec![(0, 1, true)]);
}
