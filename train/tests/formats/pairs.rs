use anglegrad_train::data::codec::ImageKind;
use anglegrad_train::data::folder::{write_image_folder, ImageFolder};
use anglegrad_train::data::pairs::*;
use anglegrad_train::data::Images;

use crate::{assert_err, temp_dir};

const VIEW2: &str = "2\t1\nAbel_Pacheco\t1\t4\nAbdel_Madi_Shabneh\t1\tDean_Barker\t1\n\
                     Bob 2  3\nAnn   1 Bob 12\n";

#[test]
fn parse_view2_and_round_trip() {
    let p = PairList::parse(VIEW2.as_bytes(), "pairs.txt").unwrap();
    assert_eq!((p.folds, p.per_fold, p.view1), (2, 1, false));
    assert_eq!(p.same_flags(), vec![true, false, true, false]);
    assert_eq!(
        p.pairs[3].b,
        ImageRef {
            name: "Bob".into(),
            number: 12
        }
    );
    let again = PairList::parse(p.to_text().as_bytes(), "x").unwrap();
    assert_eq!(again, p);
    // CRLF and kinds in any order inside a fold.
    let crlf = "1 1\r\nA 1 B 2\r\nA 1 2\r\n";
    assert_eq!(
        PairList::parse(crlf.as_bytes(), "x").unwrap().same_flags(),
        vec![false, true]
    );
}

#[test]
fn parse_view1() {
    let p = PairList::parse(b"2\nA 1 2\nB 1 3\nA 1 B 1\nA 2 B 2\n", "pairsDevTrain.txt").unwrap();
    assert_eq!((p.folds, p.per_fold, p.view1), (1, 2, true));
    assert_eq!(p.to_text().lines().next(), Some("2"));
}

#[test]
fn errors_name_line_and_byte() {
    let e = |t: &str| PairList::parse(t.as_bytes(), "pairs.txt");
    assert_err(
        e("1 1\nA 1 2\nA 1 B 1 7\n"),
        "pairs.txt: line 3 (byte 10): expected 3 or 4 fields, found 5",
    );
    assert_err(
        e("1 1\nA 1 2\nA 1 2\n"),
        "pairs.txt: line 2 (byte 4): fold 1 has 2 matched and 0 mismatched pairs",
    );
    assert_err(
        e("1 1\nA 0 2\nA 1 B 1\n"),
        "pairs.txt: line 2 (byte 6): image number \"0\" is not a decimal ≥ 1",
    );
    assert_err(
        e("1 1\nA x 2\nA 1 B 1\n"),
        "line 2 (byte 6): image number \"x\"",
    );
    assert_err(
        e("1 x\n"),
        "pairs.txt: line 1 (byte 2): header field \"x\" is not a number",
    );
    assert_err(
        e("1 2 3\n"),
        "pairs.txt: line 1 (byte 0): header must be `S P` or `N`",
    );
    assert_err(e(""), "line 1 (byte 0): header must be");
    // Cut at each boundary: after the header, after one pair, one byte short.
    let full = "1 1\nA 1 2\nA 1 B 1\n";
    assert_err(
        e(&full[..4]),
        "pairs.txt: line 2 (byte 4): truncated: header promises 2 pair lines, found 0",
    );
    assert_err(
        e(&full[..10]),
        "pairs.txt: line 3 (byte 10): truncated: header promises 2 pair lines, found 1",
    );
    assert_err(
        e(&full[..full.len() - 2]),
        "pairs.txt: line 3 (byte 14): image number \"B\" is not a decimal ≥ 1",
    );
    assert_err(
        e("1 1\nA 1 2\nA 1 B 1\nC 1 2\n"),
        "pairs.txt: line 4 (byte 18): extra line after the 2 pair lines",
    );
    // A header promising more than the file holds fails before allocating.
    assert_err(
        e("100000 300\n"),
        "line 2 (byte 11): truncated: header promises 60000000 pair lines, found 0",
    );
    assert_err(
        e("18446744073709551615 2\n"),
        "line 1 (byte 0): header 18446744073709551615 x 2 overflows",
    );
}

#[test]
fn resolve_against_an_image_folder_on_disk() {
    let dir = temp_dir("pairs-folder");
    let root = dir.join("lfw");
    let pixels: Vec<u8> = (0..5 * 3 * 4 * 4).map(|v| v as u8).collect();
    let images = Images::new(5, 3, 4, 4, pixels).unwrap();
    let names = vec!["Ann".to_string(), "Bob".to_string()];
    let paths =
        write_image_folder(&root, &images, &[0, 0, 1, 1, 1], &names, ImageKind::Png).unwrap();
    assert!(paths[4].ends_with("Bob/Bob_0003.png"));
    std::fs::write(root.join("Bob/.hidden.png"), b"x").unwrap();
    std::fs::write(root.join("Bob/notes.txt"), b"x").unwrap();
    std::fs::write(root.join("README"), b"x").unwrap();

    let folder = ImageFolder::open(&root, 0).unwrap();
    assert_eq!(folder.classes, names);
    assert_eq!((folder.len(), folder.skipped), (5, 3));
    assert_eq!(folder.labels(), vec![0, 0, 1, 1, 1]);
    assert_eq!(folder.load_all(3).unwrap(), images);
    assert_eq!(
        ImageFolder::open(&root, 3).unwrap().classes,
        vec!["Bob".to_string()]
    );

    let list = PairList::parse(b"1 1\nBob 1 3\nAnn 2 Bob 2\n", "p").unwrap();
    assert_eq!(
        list.resolve_in_folder(&folder).unwrap(),
        vec![(2, 4, true), (1, 3, false)]
    );
    let r = list.resolve_files(&root, "png", false).unwrap();
    assert_eq!(r.pairs, vec![(0, 1, true), (2, 3, false)]);
    assert_eq!(r.images[1], paths[4]);

    let list = PairList::parse(b"1 1\nBob 1 9\nAnn 7 Cid 1\n", "p").unwrap();
    assert_err(
        list.resolve_files(&root, "png", false),
        "3 image file(s) missing, the first:",
    );
    assert_err(list.resolve_files(&root, "png", false), "Bob_0009.png");
    let r = list.resolve_files(&root, "png", true).unwrap();
    assert_eq!((r.pairs.len(), r.skipped), (0, 2));
    assert_err(
        list.resolve_in_folder(&folder),
        "3 image file(s) missing, the first: Bob image 9",
    );
}

#[test]
fn corrupt_image_in_a_folder_names_the_file() {
    let dir = temp_dir("folder-corrupt");
    std::fs::create_dir_all(dir.join("A")).unwrap();
    std::fs::write(dir.join("A/a.JPG"), b"\xFF\xD8\xFF\xE0 not really").unwrap();
    std::fs::write(dir.join("A/b.png"), b"GIF89a").unwrap();
    let f = ImageFolder::open(&dir, 0).unwrap();
    assert_eq!(f.len(), 2);
    assert_err(f.load(0, 3), "a.JPG: byte 0: cannot decode Jpeg");
    assert_err(
        f.load(1, 3),
        "b.png: byte 0: not a JPEG or PNG image (first bytes 47 49 46 38)",
    );
}
