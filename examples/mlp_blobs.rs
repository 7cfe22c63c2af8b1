//! A two-layer perceptron learns the "two moons" 2-D classification set with plain SGD.
//!
//!     cargo run --release --example mlp_blobs
//!
//! The whole API on one screen: make tensors, watch the parameters on a tape, compute a loss
//! with ops, get the gradients from `backward`, step the parameters.

use anglegrad::prelude::*;

/// Two interleaved half circles with Gaussian noise; label 0 = upper moon, 1 = lower moon.
fn two_moons(n: usize, noise: f64, rng: &mut Rng) -> (Tensor, Vec<usize>) {
    let mut points = Vec::with_capacity(2 * n);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let label = i % 2;
        let angle = rng.unit() * std::f64::consts::PI;
        let (x, y) = if label == 0 {
            (angle.cos(), angle.sin())
        } else {
            (1.0 - angle.cos(), 0.5 - angle.sin())
        };
        points.push((x + noise * rng.normal()) as f32);
        points.push((y + noise * rng.normal()) as f32);
        labels.push(label);
    }
    (
        Tensor::from_vec(points, [n, 2]).expect("n rows of 2"),
        labels,
    )
}

fn accuracy(logits: &Tensor, labels: &[usize]) -> Result<f64> {
    let predicted = ops::argmax(logits, 1)?;
    let correct = predicted.iter().zip(labels).filter(|(p, y)| p == y).count();
    Ok(correct as f64 / labels.len() as f64)
}

fn main() -> Result<()> {
    let mut rng = Rng::new(7);
    let (train_x, train_y) = two_moons(512, 0.1, &mut rng);
    let (test_x, test_y) = two_moons(512, 0.1, &mut rng);

    // Parameters of x -> tanh(x W1 + b1) W2 + b2, with 32 hidden units.
    let hidden = 32;
    let mut w1 = Tensor::randn([2, hidden], 0.0, 1.0, DType::F32, &mut rng)?;
    let mut b1 = Tensor::zeros([hidden], DType::F32)?;
    let mut w2 = Tensor::randn(
        [hidden, 2],
        0.0,
        (1.0 / hidden as f64).sqrt(),
        DType::F32,
        &mut rng,
    )?;
    let mut b2 = Tensor::zeros([2], DType::F32)?;

    let forward =
        |x: &Tensor, w1: &Tensor, b1: &Tensor, w2: &Tensor, b2: &Tensor| -> Result<Tensor> {
            x.matmul(w1)?.add(b1)?.tanh()?.matmul(w2)?.add(b2)
        };

    let learning_rate = 0.5;
    for step in 0..=600 {
        // 1. Watch the parameters: ops on them are recorded.
        let tape = Tape::new();
        let params = [&w1, &b1, &w2, &b2].map(|p| tape.watch(p));
        // 2. Forward: logits and the mean cross-entropy.
        let logits = forward(&train_x, &params[0], &params[1], &params[2], &params[3])?;
        let loss = ops::cross_entropy(&logits, &train_y)?;
        if step % 100 == 0 {
            let acc = accuracy(&logits, &train_y)?;
            println!(
                "step {step:4}  loss {:.4}  train accuracy {:.1}%",
                loss.to_scalar_f64()?,
                100.0 * acc
            );
        }
        // 3. Backward: one gradient per watched tensor.
        let grads = tape.backward(&loss)?;
        // 4. SGD step: p <- p - lr * dL/dp (no tape here, so nothing is recorded).
        for p in [&mut w1, &mut b1, &mut w2, &mut b2] {
            *p = p.sub(&grads.wrt(p)?.scale(learning_rate)?)?;
        }
    }

    let test_acc = accuracy(&forward(&test_x, &w1, &b1, &w2, &b2)?, &test_y)?;
    println!(
        "test accuracy {:.1}% on {} unseen points",
        100.0 * test_acc,
        test_y.len()
    );
    Ok(())
}
