use std::io::Cursor;

use anglegrad_train::data::codec::{encode_image, ImageKind};
use anglegrad_train::data::mxpack::*;
use anglegrad_train::data::recordio::*;

use crate::{assert_err, temp_dir};

fn reader(bytes: Vec<u8>) -> RecordReader<Cursor<Vec<u8>>> {
    let len = bytes.len() as u64;
    RecordReader::new(Cursor::new(bytes), len, "t.rec")
}

fn png(v: u8) -> Vec<u8> {
    encode_image(&[v; 4 * 4 * 3], 4, 4, 3, ImageKind::Png, 0).unwrap()
}

fn pack(
    bytes: (Vec<u8>, String),
    property: &str,
) -> anglegrad_train::Result<RecordPack<Cursor<Vec<u8>>>> {
    RecordPack::new(
        reader(bytes.0),
        bytes.1.as_bytes(),
        "t.idx",
        Some(property.as_bytes()),
    )
}

#[test]
fn payloads_round_trip_including_split_ones() {
    let m = MAGIC.to_le_bytes();
    let payloads: Vec<Vec<u8>> = vec![
        vec![],
        b"x".to_vec(),
        m.to_vec(),
        [m, m, m].concat(),
        [b"abcd".as_slice(), &m, b"efg", &m, &m].concat(),
        (0..1000u32)
            .flat_map(|i| if i % 7 == 0 { m } else { i.to_le_bytes() })
            .collect(),
    ];
    let mut w = RecordWriter::new(Vec::new(), "t.rec");
    let offsets: Vec<u64> = payloads.iter().map(|p| w.write(p).unwrap()).collect();
    let mut r = reader(w.into_inner());
    let all = r.read_all().unwrap();
    assert_eq!(all.iter().map(|x| x.0).collect::<Vec<_>>(), offsets);
    assert_eq!(all.into_iter().map(|x| x.1).collect::<Vec<_>>(), payloads);
}

#[test]
fn pack_round_trip_with_and_without_identity_index() {
    let images: Vec<(usize, Vec<u8>)> = vec![(0, png(10)), (0, png(20)), (2, png(30))];
    for with_index in [false, true] {
        let dir = temp_dir(&format!("pack-{with_index}"));
        let rec = dir.join("train.rec");
        write_pack(&rec, &images, [3, 4, 4], with_index).unwrap();
        let mut p = RecordPack::open(&rec).unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!(p.classes(), Some(3));
        assert_eq!(p.labels().unwrap(), vec![0, 0, 2]);
        for (i, (class, image)) in images.iter().enumerate() {
            let r = p.read(i).unwrap();
            assert_eq!((r.class, &r.image), (*class, image));
        }
        let counts = p.identity_counts();
        assert_eq!(counts, with_index.then(|| vec![2, 0, 1]));
    }
}

#[test]
fn header_holding_the_magic_makes_a_multi_part_record() {
    // id2 = the magic, at payload offset 16 (aligned): the writer splits, the reader joins.
    let h = IrHeader {
        flag: 2,
        label: 0.0,
        id: 5,
        id2: MAGIC as u64,
        labels: vec![1.0, 1.0],
    };
    let payload = encode_irecord(&h, &png(1));
    let rec = encode_record(&payload).unwrap();
    assert_eq!(
        rec[4..8],
        (1u32 << 29 | 16).to_le_bytes(),
        "first part: cflag 1, 16 bytes"
    );
    let idx = "0\t0\n".to_string();
    let mut p = pack((rec, idx), "2,4,4").unwrap();
    let r = p.read(0).unwrap();
    assert_eq!((r.class, r.header), (1, h));
}

#[test]
fn cut_at_each_header_boundary_and_one_byte_short() {
    let rec = encode_record(b"hello").unwrap(); // 8 header + 5 + 3 padding = 16
    let cases = [
        (
            0,
            "t.rec: byte 0: truncated record header: needs 8 bytes, 0 left",
        ),
        (
            4,
            "t.rec: byte 0: truncated record header: needs 8 bytes, 4 left",
        ),
        (
            7,
            "t.rec: byte 0: truncated record header: needs 8 bytes, 7 left",
        ),
        (
            8,
            "t.rec: byte 8: record length 5 past the end of the file (0 bytes left)",
        ),
        (
            12,
            "t.rec: byte 8: record length 5 past the end of the file (4 bytes left)",
        ),
        (13, "t.rec: byte 13: padding past the end of the file"),
        (15, "t.rec: byte 13: padding past the end of the file"),
    ];
    for (cut, msg) in cases {
        assert_err(reader(rec[..cut].to_vec()).read_at(0), msg);
    }
    // A split record cut after its first part.
    let m = MAGIC.to_le_bytes();
    let split = encode_record(&[b"abcd".as_slice(), &m, b"efgh"].concat()).unwrap();
    assert_err(
        reader(split[..12].to_vec()).read_at(0),
        "byte 12: end of file inside the multi-part record at byte 0",
    );
    assert_err(
        reader(split[..15].to_vec()).read_at(0),
        "byte 12: truncated record header: needs 8 bytes, 3 left",
    );
}

#[test]
fn wrong_magic_cflags_and_lengths() {
    let mut rec = encode_record(b"abcd").unwrap();
    rec.extend(encode_record(b"efgh").unwrap());
    let mut bad = rec.clone();
    bad[12..16].copy_from_slice(&DMLC_2015_MAGIC.to_le_bytes());
    assert_err(
        reader(bad.clone()).read_all(),
        "t.rec: byte 12: bad RecordIO magic 0x3ED7230A: the 2015 dmlc format",
    );
    bad[12] = 0;
    assert_err(
        reader(bad).read_all(),
        "t.rec: byte 12: bad RecordIO magic 0x3ED72300",
    );
    let set_lrec = |at: usize, v: u32| {
        let mut b = rec.clone();
        b[at..at + 4].copy_from_slice(&v.to_le_bytes());
        b
    };
    assert_err(
        reader(set_lrec(4, 4 << 29 | 4)).read_at(0),
        "t.rec: byte 4: cflag 4 > 3",
    );
    assert_err(
        reader(set_lrec(4, 2 << 29 | 4)).read_at(0),
        "byte 0: continuation part (cflag 2) with no open record",
    );
    assert_err(
        reader(set_lrec(4, 3 << 29 | 4)).read_at(0),
        "byte 0: continuation part (cflag 3)",
    );
    assert_err(
        reader(set_lrec(4, 1 << 29 | 4)).read_at(0),
        "t.rec: byte 12: cflag 0 inside the multi-part record at byte 0",
    );
    assert_err(
        reader(set_lrec(4, 0x1FFF_FFFF)).read_at(0),
        "t.rec: byte 8: record length 536870911 past the end of the file (16 bytes left)",
    );
    assert_err(
        reader(rec.clone()).read_at(2),
        "byte 2: record offset is not a multiple of 4",
    );
    assert!(encode_record(&vec![0u8; 1 << 29]).is_err());
}

#[test]
fn index_and_property_errors_name_the_line() {
    assert_eq!(
        parse_index(b"0\t0\n1\t16\n", "t.idx", 32).unwrap(),
        vec![(0, 0), (1, 16)]
    );
    assert_err(
        parse_index(b"0\t0\n1\tx\n", "t.idx", 32),
        "t.idx: line 2 (byte 4): expected `key<TAB>offset`",
    );
    assert_err(
        parse_index(b"0\t0\n0\t16\n", "t.idx", 32),
        "t.idx: line 2 (byte 4): duplicate key 0",
    );
    assert_err(
        parse_index(b"0\t0\n1\t32\n", "t.idx", 32),
        "line 2 (byte 4): offset 32 is past the .rec",
    );
    assert_err(
        parse_index(b"0\t6\n", "t.idx", 32),
        "line 1 (byte 0): offset 6 is past the .rec (32 bytes) or not a multiple of 4",
    );
    assert_err(
        parse_index(b"0\t0\n\n1\t4\n", "t.idx", 32),
        "line 2 (byte 4): empty line",
    );
    assert_eq!(
        parse_property(b"85742,112,112\n", "property").unwrap(),
        [85742, 112, 112]
    );
    assert_err(
        parse_property(b"85742,112", "property"),
        "expected `classes,height,width`",
    );
}

#[test]
fn bad_records_inside_a_pack() {
    let one = |h: IrHeader, image: &[u8]| {
        let rec = encode_record(&encode_irecord(&h, image)).unwrap();
        pack((rec, "0\t0\n".into()), "3,4,4").and_then(|mut p| p.read(0))
    };
    assert_err(
        one(IrHeader::image(1, 0), b""),
        "t.rec: byte 32: record 0: image is empty or not JPEG/PNG (first bytes (empty))",
    );
    assert_err(
        one(IrHeader::image(1, 0), b"GIF89a"),
        "t.rec: byte 32: record 0: image is empty or not JPEG/PNG (first bytes 47 49 46 38)",
    );
    assert_err(
        one(IrHeader::image(3, 0), &png(0)),
        "t.rec: byte 8: record 0: class 3 is not a whole number in [0, 3)",
    );
    let mut h = IrHeader::image(0, 0);
    h.label = 1.5;
    assert_err(one(h, &png(0)), "class 1.5 is not a whole number");
    // payload < 24 + 4·flag: flag claims 1000 labels.
    let mut payload = encode_irecord(&IrHeader::image(0, 0), &png(0));
    payload[0..4].copy_from_slice(&1000u32.to_le_bytes());
    let rec = encode_record(&payload).unwrap();
    assert_err(
        pack((rec, "0\t0\n".into()), "3,4,4").and_then(|mut p| p.read(0)),
        "t.rec: byte 32: truncated 1000 IRHeader labels: needs 4000 bytes",
    );
    let short = encode_record(&[0u8; 20]).unwrap();
    assert_err(
        pack((short, "0\t0\n".into()), "3,4,4"),
        "t.rec: byte 24: truncated IRHeader: needs 8 bytes, 4 left",
    );
}

#[test]
fn identity_header_inconsistencies() {
    let (rec, idx) = encode_pack(&[(0, png(1)), (1, png(2))], 2, true).unwrap();
    // Drop identity record key 4 (a = 3, b = 5) from the index.
    let idx_missing: String = idx
        .lines()
        .filter(|l| !l.starts_with("4\t"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_err(
        pack((rec.clone(), idx_missing), "2,4,4"),
        "t.idx: byte 0: identity record key 4 is not in the index",
    );
    assert!(pack((rec, idx), "2,4,4").is_ok());
}
