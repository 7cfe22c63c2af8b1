//! `insta` snapshots of every loss of the registry with its default parameters: the value and
//! the gradients on fixed inputs. A change in any loss's math shows up as a reviewed diff
//! (`cargo insta review`).

use std::fmt::Write;

use anglegrad_engine::{DType, Rng, Tape, Tensor};
use anglegrad_losses::registry::{configure, LossInputs, LOSSES};

fn fixed(dims: &[usize], seed: u64) -> Tensor {
    Tensor::randn(dims, 0.0, 1.0, DType::F64, &mut Rng::new(seed)).unwrap()
}

fn line(label: &str, t: &Tensor, out: &mut String) {
    let vals: Vec<String> = t.to_vec_f64().iter().map(|v| format!("{v:.9e}")).collect();
    writeln!(out, "{label} {}: [{}]", t.shape(), vals.join(", ")).unwrap();
}

fn snapshot_of(name: &str) -> String {
    let loss = configure(name, &[]).unwrap();
    let mut inputs = LossInputs {
        embeddings: fixed(&[6, 4], 1),
        labels: vec![0, 2, 1, 0, 2, 3],
        weight: Some(fixed(&[5, 4], 2)),
        bias: Some(fixed(&[5], 3)),
        centers: Some(fixed(&[5, 4], 4)),
        teacher_embeddings: Some(fixed(&[6, 4], 5)),
    };
    let tape = Tape::new();
    let mut watched = Vec::new();
    for &n in loss.spec.differentiates {
        if let Some(t) = inputs.get(n).cloned() {
            let w = tape.watch(&t);
            inputs.set(n, w.clone());
            watched.push((n, w));
        }
    }
    let value = loss.loss(&inputs).unwrap();
    let mut out = String::new();
    line("loss", &value, &mut out);
    let grads = tape.backward(&value).unwrap();
    for (n, w) in watched {
        line(&format!("grad.{n}"), grads.wrt(&w).unwrap(), &mut out);
    }
    out
}

#[test]
fn snapshot_every_loss_with_defaults() {
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    for spec in LOSSES {
        settings.bind(|| insta::assert_snapshot!(spec.name, snapshot_of(spec.name)));
    }
}
