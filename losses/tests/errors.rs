//! Bad input gives an error naming the loss and the offending value — never a panic, never a
//! silent NaN loss.

use anglegrad_engine::{DType, Tensor};
use anglegrad_losses::check;
use anglegrad_losses::registry::{configure, LossInputs, LOSSES};

fn t(dims: &[usize], v: f64) -> Tensor {
    Tensor::full(dims, v, DType::F64).unwrap()
}

fn inputs(b: usize, d: usize, c: usize, labels: Vec<usize>) -> LossInputs {
    LossInputs {
        embeddings: t(&[b, d], 0.5),
        labels,
        weight: Some(t(&[c, d], 0.25)),
        bias: None,
        centers: Some(t(&[c, d], 0.1)),
        teacher_embeddings: Some(t(&[b, d], 0.3)),
    }
}

fn err(name: &str, inp: &LossInputs) -> String {
    configure(name, &[])
        .unwrap()
        .loss(inp)
        .unwrap_err()
        .to_string()
}

#[test]
fn label_out_of_range_names_the_loss_and_the_label() {
    for name in [
        "softmax",
        "arcface",
        "cosface",
        "sphereface",
        "center",
        "mv_arc",
        "c_triplet",
    ] {
        let msg = err(name, &inputs(2, 3, 4, vec![1, 4]));
        assert!(
            msg.starts_with(name) && msg.contains("label 4 of row 1"),
            "{msg}"
        );
    }
}

#[test]
fn negative_labels_are_rejected_when_read() {
    let msg = check::labels_from_i64("triplet", &[0, -1])
        .unwrap_err()
        .to_string();
    assert_eq!(msg, "triplet: label -1 of row 1 is negative");
}

#[test]
fn every_loss_rejects_an_empty_batch_nan_and_a_wrong_d() {
    for spec in LOSSES {
        let empty = inputs(0, 3, 4, vec![]);
        assert!(err(spec.name, &empty).contains("B = 0"), "{}", spec.name);

        let mut nan = inputs(2, 3, 4, vec![0, 1]);
        nan.embeddings = Tensor::from_vec(vec![0.1, 0.2, f64::NAN, 0.3, 0.4, 0.5], [2, 3]).unwrap();
        let msg = err(spec.name, &nan);
        assert!(
            msg.contains("non-finite value NaN at flat index 2"),
            "{}: {msg}",
            spec.name
        );

        if spec.reads.contains(&"weight") || spec.reads.contains(&"centers") {
            let mut wrong_d = inputs(2, 3, 4, vec![0, 1]);
            wrong_d.weight = Some(t(&[4, 5], 0.25));
            wrong_d.centers = Some(t(&[4, 5], 0.25));
            let msg = err(spec.name, &wrong_d);
            assert!(
                msg.contains("[4, 5]") && msg.starts_with(spec.name),
                "{}: {msg}",
                spec.name
            );
        }
    }
}

#[test]
fn a_missing_input_is_named() {
    let mut inp = inputs(2, 3, 4, vec![0, 1]);
    inp.weight = None;
    assert_eq!(
        err("arcface", &inp),
        "arcface: needs the input tensor \"weight\""
    );
    inp.teacher_embeddings = None;
    assert!(err("ddl", &inp).contains("teacher_embeddings"));
}

#[test]
fn unknown_names_and_values_are_errors_that_name_them() {
    assert!(configure("arcfce", &[])
        .unwrap_err()
        .to_string()
        .contains("unknown loss \"arcfce\""));
    let p = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
    let e = configure("arcface", &p("margin", "0.5"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("unknown parameter \"margin\"") && e.contains("s, m, gradient, fallback"),
        "{e}"
    );
    assert!(configure("arcface", &p("fallback", "sometimes"))
        .unwrap_err()
        .to_string()
        .contains("one of threshold, easy_margin, none"));
    assert!(configure("lsoftmax", &p("m", "2.5")).is_err());
    assert!(configure("lsoftmax", &p("m", "2.0")).is_ok());
    assert!(configure("triplet", &p("squared", "yes")).is_err());
    assert!(configure("cosface", &p("s", "nan")).is_err());
    assert!(configure("cosface", &p("m", "1e-4")).is_ok());
}

#[test]
fn the_pk_contract_names_a_class_with_one_sample() {
    assert!(check::every_class_has_a_pair("triplet", &[0, 0, 1, 1]).is_ok());
    let msg = check::every_class_has_a_pair("triplet", &[0, 0, 7])
        .unwrap_err()
        .to_string();
    assert!(msg.contains("class 7 has one sample"), "{msg}");
}

#[test]
fn pair_losses_with_no_pair_give_a_finite_zero() {
    // A batch of distinct identities: no positive pair, so the triplet loss is 0 (LOSSES.md §3).
    let inp = inputs(3, 2, 4, vec![0, 1, 2]);
    let loss = configure("triplet", &[]).unwrap().loss(&inp).unwrap();
    assert_eq!(loss.to_scalar_f64().unwrap(), 0.0);
}

#[test]
fn the_finiteness_check_names_the_first_bad_value_in_f32_and_f64() {
    let w32 = Tensor::from_vec(vec![0.5f32, f32::INFINITY, f32::NAN], [1, 3]).unwrap();
    let msg = check::finite("arcface", "weight", &w32)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("arcface")
            && msg.contains("weight [1, 3] has a non-finite value inf at flat index 1"),
        "{msg}"
    );
    let w64 = Tensor::from_vec(vec![0.5f64, 1.0, f64::NEG_INFINITY], [3]).unwrap();
    let msg = check::finite("cosface", "x", &w64).unwrap_err().to_string();
    assert!(
        msg.contains("non-finite value -inf at flat index 2"),
        "{msg}"
    );
    assert!(check::finite(
        "cosface",
        "x",
        &Tensor::from_vec(vec![1.0f32; 9], [9]).unwrap()
    )
    .is_ok());
}
