//! `loss_eval` against PyTorch autograd: every case of losses/tests/fixtures/torch/cases.tsv
//! (written by tools/torch_reference/losses_ref.py, float64) must agree on the loss and every
//! gradient to 1e-9, measured per tensor as max|ours − torch| / max|torch| (element-wise
//! relative error is meaningless for gradient entries of e^-50 next to entries of 1).

use std::path::Path;

use anglegrad::loss_eval::{evaluate, read_inputs};
use anglegrad::losses::registry::{configure, LOSSES};
use safetensors::SafeTensors;

const TOLERANCE: f64 = 1e-9;

fn expected(path: &Path) -> Vec<(String, Vec<f64>)> {
    let bytes = std::fs::read(path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    st.tensors()
        .into_iter()
        .map(|(name, v)| {
            (
                name,
                v.data()
                    .chunks_exact(8)
                    .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
                    .collect(),
            )
        })
        .collect()
}

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("losses/tests/fixtures/torch");
    let cases = std::fs::read_to_string(dir.join("cases.tsv")).expect("cases.tsv");
    let mut failures = Vec::new();
    let mut covered = std::collections::BTreeSet::new();
    let (mut checked, mut worst) = (0, (0.0f64, String::new()));
    for line in cases.lines().filter(|l| !l.trim().is_empty()) {
        let mut fields = line.split('\t');
        let (case, loss_name) = (fields.next().unwrap(), fields.next().unwrap());
        let params: Vec<(String, String)> = fields
            .next()
            .unwrap_or("")
            .split_whitespace()
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap();
                (k.to_string(), v.to_string())
            })
            .collect();
        let loss = configure(loss_name, &params).unwrap_or_else(|e| panic!("{case}: {e}"));
        let out = match read_inputs(&dir.join(format!("{case}.in.safetensors")), &loss)
            .and_then(|i| evaluate(&loss, i))
        {
            Ok(o) => o,
            Err(e) => {
                failures.push(format!("{case}: {e}"));
                continue;
            }
        };
        let ours: Vec<(String, Vec<f64>)> =
            std::iter::once(("loss".to_string(), out.loss.to_vec_f64()))
                .chain(out.grads.iter().map(|(n, t)| (n.clone(), t.to_vec_f64())))
                .collect();
        let theirs = expected(&dir.join(format!("{case}.out.safetensors")));
        for (name, want) in &theirs {
            let Some((_, got)) = ours.iter().find(|(n, _)| n == name) else {
                failures.push(format!("{case}: we wrote no {name}"));
                continue;
            };
            let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let err = got
                .iter()
                .zip(want)
                .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
            let rel = if scale > 0.0 { err / scale } else { err };
            if rel > worst.0 {
                worst = (rel, format!("{case} {name}"));
            }
            if rel.is_nan() || rel > TOLERANCE || got.len() != want.len() {
                failures.push(format!("{case} {name}: relative error {rel:.3e}"));
            }
        }
        if ours.len() != theirs.len() {
            failures.push(format!(
                "{case}: we wrote {} tensors, torch {}",
                ours.len(),
                theirs.len()
            ));
        }
        covered.insert(loss_name.to_string());
        checked += 1;
    }
    let missing: Vec<&str> = LOSSES
        .iter()
        .map(|s| s.name)
        .filter(|n| !covered.contains(*n))
        .collect();
    println!(
        "loss_eval vs PyTorch (f64): {checked} cases, {} of {} losses; worst relative error {:.2e} ({})",
        covered.len(),
        LOSSES.len(),
        worst.0,
        worst.1
    );
    assert!(
        failures.is_empty(),
        "disagreements with PyTorch:\n{}",
        failures.join("\n")
    );
    assert!(
        missing.is_empty(),
        "losses without a PyTorch case: {missing:?}"
    );
}
