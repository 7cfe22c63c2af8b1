//! The losses' gradient-check table: every loss of the registry (and its modes), checked in
//! f64 against central differences on random inputs (no input sits on a kink: hinges, mining
//! selections, the ArcFace threshold and SV-X's hard mask are piecewise, and a seeded random
//! point is almost surely away from their switches). Prints how many losses it covered; fails
//! if any registry loss has no row.

use std::collections::BTreeSet;

use anglegrad_engine::{DType, Result, Rng, Tensor};
use anglegrad_losses::center::{center_loss, CenterMode};
use anglegrad_losses::registry::{configure, LossInputs, LOSSES};
use anglegrad_ops::gradcheck::{check_gradients_wrt, GradCheck};

const B: usize = 8;
const D: usize = 5;
const C: usize = 6;
const LABELS: [usize; B] = [0, 1, 2, 0, 1, 3, 0, 2];

/// The named inputs of a row, in the order they are handed to the checker.
fn inputs(names: &[&str], rng: &mut Rng) -> Vec<Tensor> {
    names
        .iter()
        .map(|&n| {
            let dims: &[usize] = match n {
                "weight" | "centers" => &[C, D],
                "bias" => &[C],
                _ => &[B, D],
            };
            Tensor::randn(dims, 0.0, 1.0, DType::F64, rng).unwrap()
        })
        .collect()
}

/// The loss `name` with `params`, as a function of the tensors `names`.
fn registry_fn(
    name: &'static str,
    params: &'static [(&'static str, &'static str)],
    names: &'static [&'static str],
) -> impl Fn(&[Tensor]) -> Result<Tensor> {
    move |xs: &[Tensor]| {
        let given: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let loss = configure(name, &given)?;
        let mut inp = LossInputs {
            embeddings: xs[0].clone(),
            labels: LABELS.to_vec(),
            weight: None,
            bias: None,
            centers: None,
            teacher_embeddings: None,
        };
        for (n, t) in names.iter().zip(xs) {
            inp.set(n, t.clone());
        }
        loss.loss(&inp)
    }
}

type LossFn = Box<dyn Fn(&[Tensor]) -> Result<Tensor>>;

struct Row {
    label: String,
    loss: &'static str,
    names: &'static [&'static str],
    f: LossFn,
}

fn row(
    loss: &'static str,
    params: &'static [(&'static str, &'static str)],
    names: &'static [&'static str],
) -> Row {
    let label = if params.is_empty() {
        loss.to_string()
    } else {
        let p: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{loss} {}", p.join(" "))
    };
    Row {
        label,
        loss,
        names,
        f: Box::new(registry_fn(loss, params, names)),
    }
}

const LINEAR: &[&str] = &["embeddings", "weight"];
const LINEAR_BIAS: &[&str] = &["embeddings", "weight", "bias"];
const HEAD: &[&str] = &["embeddings", "weight"];
const PAIR: &[&str] = &["embeddings"];

fn table() -> Vec<Row> {
    let mut rows = vec![
        row("softmax", &[], LINEAR),
        row("softmax", &[], LINEAR_BIAS),
        row("focal", &[], LINEAR_BIAS),
        row("focal", &[("gamma", "0.5"), ("alpha", "0.25")], LINEAR),
        row("deepid2", &[], LINEAR_BIAS),
        row("deepid2", &[("lambda", "0.5"), ("m", "3.0")], LINEAR),
        row("contrastive", &[], PAIR),
        row("contrastive", &[("m_pos", "0.3"), ("m_neg", "1.2")], PAIR),
        row("triplet", &[], PAIR),
        row(
            "triplet",
            &[
                ("mining", "all"),
                ("reduction", "mean"),
                ("squared", "false"),
                ("alpha", "0.5"),
            ],
            PAIR,
        ),
        row(
            "triplet",
            &[
                ("mining", "batch_hard"),
                ("reduction", "avg_nonzero"),
                ("alpha", "1.0"),
            ],
            PAIR,
        ),
        row("lsoftmax", &[], HEAD),
        row("lsoftmax", &[("m", "1")], HEAD),
        row("lsoftmax", &[("m", "2"), ("lambda", "2.0")], HEAD),
        row("lsoftmax", &[("m", "3")], HEAD),
        row("sphereface", &[], HEAD),
        row("sphereface", &[("lambda", "5.0")], HEAD),
        row("normface", &[], HEAD),
        row("c_contrastive", &[], HEAD),
        row("c_triplet", &[], HEAD),
        row("cosface", &[], HEAD),
        row("arcface", &[], HEAD),
        row(
            "arcface",
            &[("fallback", "easy_margin"), ("s", "30.0")],
            HEAD,
        ),
        row("arcface", &[("fallback", "none"), ("m", "0.3")], HEAD),
        row("combined", &[], HEAD),
        row(
            "combined",
            &[("m1", "0.9"), ("m2", "0.4"), ("m3", "0.15")],
            HEAD,
        ),
        row("center", &[], &["embeddings", "centers"]),
        row(
            "range",
            &[("m", "30.0"), ("alpha", "0.5"), ("beta", "0.5")],
            PAIR,
        ),
        row(
            "range",
            &[("squared", "false"), ("m", "3.0"), ("k", "3")],
            PAIR,
        ),
        row("sv_softmax", &[], HEAD),
        row("mv_am", &[], HEAD),
        row("mv_am", &[("adaptive", "false")], HEAD),
        row("mv_arc", &[], HEAD),
        row("ddl", &[], &["embeddings", "teacher_embeddings"]),
        row(
            "ddl",
            &[("tau", "0.2"), ("w_pos", "1.0"), ("w_neg", "1.0")],
            &["embeddings", "teacher_embeddings"],
        ),
    ];
    rows.push(Row {
        label: "center (learnable centres)".into(),
        loss: "center",
        names: &["embeddings", "centers"],
        f: Box::new(|xs: &[Tensor]| center_loss(&xs[0], &xs[1], &LABELS, CenterMode::Learnable)),
    });
    rows
}

fn main() {
    let rows = table();
    let mut rng = Rng::new(2024);
    let mut covered = BTreeSet::new();
    let mut failures = Vec::new();
    let mut worst = (0.0f64, String::new());
    for r in &rows {
        let xs = inputs(r.names, &mut rng);
        let cfg = GradCheck {
            rtol: 1e-5,
            atol: 1e-8,
            ..GradCheck::default()
        };
        // The paper's centre loss gives the centres no gradient (they are state): check x only.
        let wrt: Vec<bool> = r
            .names
            .iter()
            .map(|&n| !(r.label == "center" && n == "centers"))
            .collect();
        match check_gradients_wrt(&r.f, &xs, &wrt, &cfg) {
            Ok(report) if report.max_abs_grad == 0.0 => {
                failures.push(format!(
                    "{}: the gradient is all zeros, so the row checks nothing",
                    r.label
                ));
            }
            Ok(report) => {
                covered.insert(r.loss);
                if report.budget_used > worst.0 {
                    worst = (report.budget_used, r.label.clone());
                }
            }
            Err(e) => failures.push(format!("{}: {e}", r.label)),
        }
    }
    let missing: Vec<&str> = LOSSES
        .iter()
        .map(|s| s.name)
        .filter(|n| !covered.contains(n))
        .collect();
    println!(
        "loss gradient check: {} of {} losses in {} rows; worst row {:?} used {:.3} of its tolerance budget",
        covered.len(),
        LOSSES.len(),
        rows.len(),
        worst.1,
        worst.0
    );
    assert!(
        failures.is_empty(),
        "gradient check failures:\n{}",
        failures.join("\n")
    );
    assert!(
        missing.is_empty(),
        "losses with no gradient-check row: {missing:?}"
    );
}
