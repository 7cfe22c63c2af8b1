//! The training run end to end on tiny data: every kind of loss trains a few steps, the
//! outputs are written, a run resumes from its checkpoint, and the file benchmarks (pairs.txt
//! with images, insightface .bin) score like the built-in one.

use anglegrad_train::data::synthetic::{export::export_all, SyntheticConfig, SyntheticSet};
use anglegrad_train::trainer::evaluate::verify;
use anglegrad_train::trainer::{backbone, benchmark, run, TrainConfig, TrainData};

fn tiny(loss: &str, out: &std::path::Path) -> TrainConfig {
    TrainConfig {
        data: "synthetic:tiny".into(),
        backbone: "lenetpp".into(),
        width_divisor: 4,
        embedding: 8,
        loss: loss.into(),
        loss_params: vec![],
        epochs: 2,
        batch: 8,
        k: 2,
        lr: 0.01,
        threads: 1,
        out: out.to_path_buf(),
        ..TrainConfig::default()
    }
}

fn temp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("anglegrad-trainer-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn every_kind_of_loss_trains_and_writes_its_outputs() {
    // One loss of each batching/state kind of the objective.
    for loss in [
        "arcface",
        "softmax",
        "triplet",
        "center",
        "ddl",
        "sphereface",
        "mv_arc",
    ] {
        let out = temp(loss);
        let s = run(&tiny(loss, &out)).unwrap_or_else(|e| panic!("{loss}: {e}"));
        assert!(s.final_loss.is_finite() && s.steps > 0, "{loss}: {s:?}");
        assert!(s.verification.is_some(), "{loss}: evaluated");
        for f in ["config.json", "metrics.jsonl", "checkpoint.safetensors"] {
            assert!(out.join(f).is_file(), "{loss}: {f}");
        }
        let log = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
        assert!(
            log.lines().any(|l| l.contains("\"kind\":\"eval\"")),
            "{loss}: eval logged"
        );
        std::fs::remove_dir_all(&out).ok();
    }
}

#[test]
fn a_run_resumes_from_its_checkpoint() {
    let out = temp("resume");
    let first = TrainConfig {
        epochs: 1,
        ..tiny("arcface", &out)
    };
    let s1 = run(&first).unwrap();
    let resumed = TrainConfig {
        epochs: 2,
        resume: Some(out.join("checkpoint.safetensors")),
        ..tiny("arcface", &out)
    };
    let s2 = run(&resumed).unwrap();
    assert_eq!(
        s2.steps,
        2 * s1.steps,
        "the second run continues from the first's step"
    );
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn bad_configurations_are_clear_errors() {
    let out = temp("bad");
    let err = |cfg: TrainConfig| run(&cfg).unwrap_err().to_string();
    assert!(err(TrainConfig {
        data: "nowhere:x".into(),
        ..tiny("arcface", &out)
    })
    .contains("unknown data"));
    assert!(err(TrainConfig {
        backbone: "vgg".into(),
        ..tiny("arcface", &out)
    })
    .contains("unknown backbone"));
    assert!(err(TrainConfig {
        loss: "hinge".into(),
        ..tiny("hinge", &out)
    })
    .contains("unknown loss"));
    assert!(err(TrainConfig {
        lr: -1.0,
        ..tiny("arcface", &out)
    })
    .contains("lr"));
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn file_benchmarks_score_like_the_built_in_one() {
    let dir = temp("export");
    let set = SyntheticSet::generate(&SyntheticConfig::preset("tiny").unwrap()).unwrap();
    export_all(&set, &dir).unwrap();
    let data = TrainData::load("synthetic:tiny").unwrap();
    let input = data.input_dims();
    let mut model = backbone::build("lenetpp", input, 8, 4, 1).unwrap();
    let built_in = verify(&mut model, data.eval.as_ref().unwrap(), false).unwrap();
    // PNG files are lossless: the same images, the same pairs, the same report.
    let from_txt = benchmark::from_pairs_txt(
        &dir.join("verif/pairs.txt"),
        &dir.join("verif"),
        "png",
        input,
    )
    .unwrap();
    assert_eq!(
        from_txt.pairs.len(),
        data.eval.as_ref().unwrap().pairs.len()
    );
    let txt_report = verify(&mut model, &from_txt, false).unwrap();
    assert_eq!(txt_report.auc, built_in.auc);
    // The .bin holds JPEGs (lossy): same pairs, a close score.
    let from_bin = benchmark::from_bin(&dir.join("verif.bin"), input).unwrap();
    assert_eq!(from_bin.pairs.len(), from_txt.pairs.len());
    let bin_report = verify(&mut model, &from_bin, false).unwrap();
    assert!(
        (bin_report.auc - built_in.auc).abs() < 0.1,
        "{} vs {}",
        bin_report.auc,
        built_in.auc
    );
    // A model of another input size is refused with a clear message.
    let err = benchmark::from_bin(&dir.join("verif.bin"), [1, 12, 12])
        .map(|s| s.images.h)
        .unwrap_err();
    assert!(err.to_string().contains("cannot resize"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}
