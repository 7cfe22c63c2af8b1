//! Glyph identities (DATASETS.md §3.1). Needs the CJK font packages: prints
//! `skipped: CJK fonts not installed` without them, unless `ANGLEGRAD_REQUIRE_DATA=1`.

use ab_glyph::FontRef;
use anglegrad_train::data::data_required;
use anglegrad_train::data::glyphs::fonts::{all_installed, FACES};
use anglegrad_train::data::glyphs::raster::{render_glyph, CANVAS, INK};
use anglegrad_train::data::glyphs::{GlyphSet, PAIRS_PER_FOLD};
use anglegrad_train::data::pairs::PairList;

fn skip(what: &str) {
    assert!(!data_required(), "{what} and ANGLEGRAD_REQUIRE_DATA=1");
    println!("skipped: CJK fonts not installed ({what})");
}

#[test]
fn each_installed_face_renders_a_centred_26_pixel_glyph() {
    let mut rendered = 0;
    for face in FACES.iter().filter(|f| f.locate().is_some()) {
        let bytes = face.read().unwrap();
        let font = FontRef::try_from_slice_and_index(&bytes, face.index).unwrap();
        for ch in ['啊', '座', '一'] {
            let img = render_glyph(&font, ch, face.id).unwrap();
            let lit: Vec<(usize, usize)> = (0..CANVAS * CANVAS)
                .filter(|&i| img[i] > 0)
                .map(|i| (i % CANVAS, i / CANVAS))
                .collect();
            let span = |v: Vec<usize>| (*v.iter().min().unwrap(), *v.iter().max().unwrap());
            let (xs, ys) = (
                span(lit.iter().map(|p| p.0).collect()),
                span(lit.iter().map(|p| p.1).collect()),
            );
            let (w, h) = (xs.1 - xs.0 + 1, ys.1 - ys.0 + 1);
            assert!(
                w.max(h) <= INK && w.max(h) >= INK - 1,
                "{} {ch}: ink box {w}x{h}",
                face.id
            );
            // Centred: the box's margins differ by at most one pixel (integer division).
            assert!(
                (xs.0 as isize - (CANVAS - 1 - xs.1) as isize).abs() <= 1,
                "{} {ch}: x {xs:?}",
                face.id
            );
            assert!(
                (ys.0 as isize - (CANVAS - 1 - ys.1) as isize).abs() <= 1,
                "{} {ch}: y {ys:?}",
                face.id
            );
        }
        rendered += 1;
    }
    if rendered == 0 {
        skip("no face of the benchmark is installed");
    }
}

#[test]
fn the_benchmark_has_its_documented_shape() {
    if !all_installed() {
        let missing: Vec<&str> = FACES
            .iter()
            .filter(|f| f.locate().is_none())
            .map(|f| f.package)
            .collect();
        return skip(&format!("missing packages: {}", missing.join(" ")));
    }
    let set = GlyphSet::load().unwrap();
    assert_eq!((set.train.n, set.test.n), (20_000, 6_000));
    assert_eq!(set.pairs.len(), 20 * PAIRS_PER_FOLD);
    let list = PairList::parse(set.pair_list().to_text().as_bytes(), "glyph_pairs.txt").unwrap();
    assert_eq!(
        list.same_flags(),
        set.pairs.iter().map(|p| p.2).collect::<Vec<_>>()
    );
    let raw = set.report(&set.test_f32(), CANVAS * CANVAS).unwrap();
    println!(
        "glyphs raw pixels: {} (AUC look-alike {:.3}, random {:.3})",
        raw.all, raw.auc_look_alike, raw.auc_random
    );
    assert!(raw.all.accuracy.mean > 0.55 && raw.all.accuracy.mean < 0.75);
}
