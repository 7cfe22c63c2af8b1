//! Fashion-MNIST from the Debian package (DATASETS.md §2): prints
//! `skipped: Fashion-MNIST not installed` when absent, unless `ANGLEGRAD_REQUIRE_DATA=1`.

use anglegrad_train::data::data_required;
use anglegrad_train::data::fashion_mnist::{load, locate, verification_pairs, Split};
use anglegrad_train::eval::{cosine_scores, VerificationReport};

fn installed() -> bool {
    if locate().is_some() {
        return true;
    }
    assert!(!data_required(), "Fashion-MNIST not installed and ANGLEGRAD_REQUIRE_DATA=1: apt-get install dataset-fashion-mnist");
    println!("skipped: Fashion-MNIST not installed");
    false
}

#[test]
fn both_splits_have_the_documented_counts() {
    if !installed() {
        return;
    }
    for (split, n) in [(Split::Train, 60_000), (Split::Test, 10_000)] {
        let ds = load(split).unwrap();
        assert_eq!(
            (ds.images.n, ds.images.c, ds.images.h, ds.images.w),
            (n, 1, 28, 28)
        );
        let mut per_class = [0usize; 10];
        ds.labels.iter().for_each(|&l| per_class[l] += 1);
        assert_eq!(per_class, [n / 10; 10], "{split:?}");
    }
}

#[test]
fn closed_set_pairs_on_raw_pixels() {
    if !installed() {
        return;
    }
    let test = load(Split::Test).unwrap();
    let pairs = verification_pairs(&test.labels, 300).unwrap();
    assert_eq!(pairs.len(), 6000);
    let all: Vec<usize> = (0..test.images.n).collect();
    let pixels = test.images.batch_f32(&all);
    let idx: Vec<(usize, usize)> = pairs.iter().map(|p| (p.0, p.1)).collect();
    let same: Vec<bool> = pairs.iter().map(|p| p.2).collect();
    let scores = cosine_scores(&pixels, 28 * 28, &idx).unwrap();
    let report = VerificationReport::compute(&scores, &same, 10).unwrap();
    println!("Fashion-MNIST raw pixels, closed set: {report}");
    // Raw pixels separate garment classes well above chance, far from perfect.
    assert!(
        report.accuracy.mean > 0.6 && report.accuracy.mean < 0.95,
        "{report}"
    );
}
