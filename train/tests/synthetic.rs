//! Synthetic identities (DATASETS.md §4): determinism (pinned SHA-256s), the long tail, the
//! verification folds, landmarks and alignment, vector-mode theory, difficulty, exports.

use std::sync::OnceLock;

use anglegrad_train::data::align::{template, Similarity};
use anglegrad_train::data::synthetic::identity::{
    gaussian_matrix, latent, mat_vec, tag, Population,
};
use anglegrad_train::data::synthetic::sample::{vector_sample, SampleDraw};
use anglegrad_train::data::synthetic::{Nuisance, SyntheticConfig, SyntheticSet, FOLDS};
use anglegrad_train::data::Samples;
use sha2::{Digest, Sha256};

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn small() -> &'static SyntheticSet {
    static SET: OnceLock<SyntheticSet> = OnceLock::new();
    SET.get_or_init(|| SyntheticSet::generate(&SyntheticConfig::preset("small").unwrap()).unwrap())
}

fn tiny() -> SyntheticSet {
    SyntheticSet::generate(&SyntheticConfig::preset("tiny").unwrap()).unwrap()
}

#[test]
fn tiny_is_byte_identical_to_the_pinned_hashes() {
    let set = tiny();
    let pixels = &set.samples.images().unwrap().pixels;
    let verif = &set.verification.samples.images().unwrap().pixels;
    let pairs = set
        .verification
        .pair_list(set.config.verif_images)
        .to_text();
    let vector =
        SyntheticSet::generate(&SyntheticConfig::preset("tiny").unwrap().vector_mode()).unwrap();
    let values: Vec<u8> = match &vector.samples {
        Samples::Vectors { values, .. } => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        Samples::Images(_) => unreachable!("vector mode"),
    };
    let got = [sha(pixels), sha(verif), sha(pairs.as_bytes()), sha(&values)];
    let want = PINNED;
    assert_eq!(got, want, "tiny changed: if on purpose, update PINNED");
    // The same config twice gives the same bytes; another seed does not.
    assert_eq!(tiny().samples, set.samples);
    let mut other = SyntheticConfig::preset("tiny").unwrap();
    other.seed += 1;
    assert_ne!(SyntheticSet::generate(&other).unwrap().samples, set.samples);
}

/// SHA-256 of tiny's training pixels, verification pixels, pairs.txt and vector-mode values.
const PINNED: [&str; 4] = [
    "64b8a32725afaf7a70fd0f57a9d843c602c29a79d7f98314172702dcff425cf2",
    "4226ccd2dc4ba6b303bfce74dc4a7f11585c570e0c0fcfa6c6570f848d1cf8c8",
    "c2df7bda0413bd9fbb5965ce507c5a82581ab695a6de2180ca9d9fd60fec2ed0",
    "e6581cf78d0bcdf141f0240f3dc74f1b1add6b7ba74991f06fe41c5dde1e142d",
];

#[test]
fn counts_follow_the_long_tail_and_labels_group_by_identity() {
    let set = tiny();
    assert_eq!((set.len(), set.identities), (41, 16));
    let mut sorted = set.counts.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    // n_max · r^−1 for r = 1..4, then clamped to n_min = 2: 8 4 3 2 2 ...
    assert_eq!(sorted[..5], [8, 4, 3, 2, 2]);
    let mut expect = Vec::new();
    for (i, &n) in set.counts.iter().enumerate() {
        expect.extend(std::iter::repeat_n(i, n));
    }
    assert_eq!(set.true_labels, expect);
    assert_eq!(set.labels, expect, "no label noise in the presets");
    assert_eq!(set.samples.len(), 41);
    assert_eq!(set.samples.sample_shape(), vec![1, 16, 16]);
}

#[test]
fn verification_folds_are_identity_disjoint_with_p_of_each_kind() {
    let set = small();
    let v = &set.verification;
    let p = v.pairs_per_fold;
    assert_eq!(v.pairs.len(), 2 * p * FOLDS);
    let mut fold_of_identity = std::collections::HashMap::new();
    let mut seen = std::collections::HashSet::new();
    for (k, fold) in v.pairs.chunks(2 * p).enumerate() {
        let genuine = fold.iter().filter(|x| x.2).count();
        let siblings = fold
            .iter()
            .filter(|x| !x.2 && v.family[x.0] == v.family[x.1])
            .count();
        assert_eq!((genuine, siblings), (p, p / 2), "fold {k}");
        for &(a, b, same) in fold {
            assert_eq!(same, v.identity[a] == v.identity[b]);
            assert_ne!(a, b);
            assert!(seen.insert((a.min(b), a.max(b))), "pair ({a}, {b}) twice");
            for s in [a, b] {
                assert_eq!(
                    *fold_of_identity.entry(v.identity[s]).or_insert(k),
                    k,
                    "identity in two folds"
                );
            }
        }
    }
}

#[test]
fn landmarks_sit_on_the_template_and_alignment_undoes_the_camera() {
    // No nuisance: every landmark within identity variation (mouth and nose move up to ±4
    // template units per axis) of the template.
    let mut cfg = SyntheticConfig::preset("small").unwrap();
    cfg.nuisance = Nuisance::NONE;
    let clean = SyntheticSet::generate(&cfg).unwrap();
    let t = template(32, 32);
    let scale = 32.0 / 112.0;
    for marks in &clean.landmarks {
        for (m, t) in marks.iter().zip(&t) {
            let (dx, dy) = ((m.0 as f64 - t.0).abs(), (m.1 as f64 - t.1).abs());
            assert!(
                dx < 4.0 * scale && dy < 4.0 * scale,
                "landmark {m:?} is ({dx}, {dy}) px from {t:?}"
            );
        }
    }
    // Every nuisance on: after the least-squares similarity the landmarks land near the
    // template, bad crops included (what is left is identity, yaw and expression).
    let set = small();
    let rms = |marks: &[(f32, f32); 5]| {
        let src: Vec<(f64, f64)> = marks.iter().map(|&(x, y)| (x as f64, y as f64)).collect();
        let fit = Similarity::fit(&src, &t).unwrap();
        let e: f64 = src
            .iter()
            .zip(&t)
            .map(|(&s, &t)| {
                let p = fit.apply(s);
                (p.0 - t.0).powi(2) + (p.1 - t.1).powi(2)
            })
            .sum();
        (e / 5.0).sqrt()
    };
    let mut bad_crops = 0;
    let mut k_of = vec![0usize; set.identities];
    for (n, &i) in set.true_labels.iter().enumerate() {
        let draw = SampleDraw::new(&set.config, i, k_of[i]);
        k_of[i] += 1;
        let r = rms(&set.landmarks[n]);
        assert!(r < 10.0 * scale, "sample {n}: residual {r} px");
        bad_crops += usize::from(draw.misaligned.is_some());
    }
    assert!(
        bad_crops > 50,
        "bad crops should occur (0.3 × 0.5 of samples), got {bad_crops}"
    );
}

/// Φ, the standard normal CDF.
fn phi(x: f64) -> f64 {
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

#[test]
fn vector_mode_nearest_mean_accuracy_matches_theory() {
    // x = nrm(m_0 + σ ε): the nearest of two mean directions m̂_0, m̂_1 is right when
    // ⟨y, m̂_0 − m̂_1⟩ > 0 for y = m_0 + σ ε (normalising y does not change the sign), which has
    // probability Φ(⟨m_0, m̂_0 − m̂_1⟩ / (σ ‖m̂_0 − m̂_1‖)).
    let cfg = SyntheticConfig::preset("tiny").unwrap().vector_mode();
    let pop = Population::new(&cfg);
    let dim = cfg.vector_dim;
    let a = gaussian_matrix(cfg.seed, tag::VECTOR_MAP, dim, cfg.latent_dim);
    let mean = |i: usize| mat_vec(&a, &latent(&cfg, i, pop.family[i]));
    let unit = |v: &[f64]| {
        let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        v.iter().map(|x| x / n).collect::<Vec<_>>()
    };
    // Identity 1 is a sibling of 0 (same family), 5 is not.
    for other in [1usize, 5] {
        let (m0, m1) = (mean(0), mean(other));
        let diff: Vec<f64> = unit(&m0)
            .iter()
            .zip(unit(&m1))
            .map(|(a, b)| a - b)
            .collect();
        let dn = diff.iter().map(|x| x * x).sum::<f64>().sqrt();
        let theory =
            phi(m0.iter().zip(&diff).map(|(a, b)| a * b).sum::<f64>() / (cfg.intra_sigma * dn));
        let n = 4000;
        let right = (0..n)
            .filter(|&k| {
                let x = vector_sample(&cfg, &m0, 0, k);
                x.iter().zip(&diff).map(|(&x, d)| x as f64 * d).sum::<f64>() > 0.0
            })
            .count();
        let got = right as f64 / n as f64;
        let se = (theory * (1.0 - theory) / n as f64).sqrt();
        assert!(
            (got - theory).abs() < 4.0 * se + 1e-3,
            "vs {other}: empirical {got}, theory {theory}"
        );
        assert!(
            theory > 0.6 && theory < 0.9999,
            "vs {other}: theory {theory} should be informative"
        );
    }
}

#[test]
fn raw_pixels_verify_above_chance_and_well_below_perfect() {
    let report = small().verification.raw_pixel_report().unwrap();
    println!("small raw pixels: {report}");
    let acc = report.accuracy.mean;
    assert!(acc > 0.55 && acc < 0.8, "raw-pixel accuracy {acc}");
    // The nuisances make it hard: without them every genuine pair is identical.
    let mut cfg = SyntheticConfig::preset("small").unwrap();
    cfg.nuisance = Nuisance::NONE;
    let clean = SyntheticSet::generate(&cfg)
        .unwrap()
        .verification
        .raw_pixel_report()
        .unwrap();
    assert!(
        clean.accuracy.mean > 0.99,
        "clean raw-pixel accuracy {}",
        clean.accuracy.mean
    );
}

#[test]
fn probes_are_fresh_samples_of_training_identities_made_lazily() {
    let set = tiny();
    let (one, labels) = set.probes(1);
    let (two, labels2) = set.probes(2);
    assert_eq!(labels, (0..16).collect::<Vec<_>>());
    assert_eq!(labels2.len(), 32);
    let (p1, p2) = (one.images().unwrap(), two.images().unwrap());
    // Probe k = n_i of identity i is the same whether made alone or with k = n_i + 1.
    for i in 0..16 {
        assert_eq!(p1.image(i), p2.image(2 * i));
    }
    // ... and differs from every training sample.
    let train = set.samples.images().unwrap();
    assert!((0..set.len()).all(|s| train.image(s) != p1.image(0)));
}

#[test]
fn label_noise_flips_the_configured_share() {
    let mut cfg = SyntheticConfig::preset("small").unwrap().vector_mode();
    cfg.label_noise = 0.2;
    let set = SyntheticSet::generate(&cfg).unwrap();
    let wrong = set
        .labels
        .iter()
        .zip(&set.true_labels)
        .filter(|(a, b)| a != b)
        .count();
    let share = wrong as f64 / set.len() as f64;
    assert!((share - 0.2).abs() < 0.05, "wrong-label share {share}");
    assert!(set.labels.iter().all(|&l| l < set.identities));
}

#[test]
fn bad_configs_are_errors() {
    assert!(SyntheticConfig::preset("huge").is_err());
    let mut cfg = SyntheticConfig::preset("tiny").unwrap();
    cfg.images_min = 1;
    assert!(SyntheticSet::generate(&cfg).is_err());
    let mut cfg = SyntheticConfig::preset("tiny").unwrap();
    cfg.pairs_per_fold = 1000;
    assert!(SyntheticSet::generate(&cfg).is_err());
}

#[test]
fn exports_read_back_with_every_reader() {
    use anglegrad_train::data::codec::decode_image;
    use anglegrad_train::data::folder::ImageFolder;
    use anglegrad_train::data::idx::read_idx_dataset;
    use anglegrad_train::data::mxpack::RecordPack;
    use anglegrad_train::data::pairs::PairList;
    use anglegrad_train::data::synthetic::export::export_all;
    use anglegrad_train::data::verification_bin::VerificationBin;
    use anglegrad_train::Offset;

    let set = tiny();
    let dir = std::env::temp_dir().join(format!("anglegrad-train-{}-export", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    export_all(&set, &dir).unwrap();
    let train = set.samples.images().unwrap();
    let close = |a: &[u8], b: &[u8]| {
        let mad = a
            .iter()
            .zip(b)
            .map(|(x, y)| x.abs_diff(*y) as f64)
            .sum::<f64>()
            / a.len() as f64;
        assert!(mad < 6.0, "JPEG round trip off by {mad} on average");
    };

    let folder = ImageFolder::open(&dir.join("train"), 0).unwrap();
    assert_eq!(folder.labels(), set.true_labels);
    assert_eq!(folder.skipped, 1, "landmarks.tsv is not an image");
    assert_eq!(&folder.load_all(1).unwrap(), train);
    let tsv = std::fs::read_to_string(dir.join("train/landmarks.tsv")).unwrap();
    assert_eq!(tsv.lines().count(), set.len());
    assert_eq!(tsv.lines().next().unwrap().split('\t').count(), 11);

    let v = &set.verification;
    let vfolder = ImageFolder::open(&dir.join("verif"), 0).unwrap();
    let pairs = PairList::read(&dir.join("verif/pairs.txt")).unwrap();
    assert_eq!(pairs.resolve_in_folder(&vfolder).unwrap(), v.pairs);

    for name in ["verif.bin", "verif_py3.bin"] {
        let bin = VerificationBin::read(&dir.join(name)).unwrap();
        assert_eq!(bin.issame, v.same());
        let decoded = bin.decode_images(1, name).unwrap();
        let vim = v.samples.images().unwrap();
        for (p, &(a, b, _)) in v.pairs.iter().enumerate().take(5) {
            close(decoded.image(2 * p), vim.image(a));
            close(decoded.image(2 * p + 1), vim.image(b));
        }
    }

    for (sub, indexed) in [("rec", true), ("rec_plain", false)] {
        let mut pack = RecordPack::open(&dir.join(sub).join("train.rec")).unwrap();
        assert_eq!(pack.identity_counts(), indexed.then(|| set.counts.clone()));
        assert_eq!(pack.labels().unwrap(), set.true_labels);
        let r = pack.read(7).unwrap();
        let im = decode_image(&r.image, 1, sub, Offset::Byte(0)).unwrap();
        close(&im.pixels, train.image(7));
    }

    let ds = read_idx_dataset(
        &dir.join("idx/train-images.idx.gz"),
        &dir.join("idx/train-labels.idx.gz"),
        set.identities,
    )
    .unwrap();
    assert_eq!((&ds.images, &ds.labels), (train, &set.true_labels));
}
