//! The figure of chapter 8 of the course (docs/08-margins.md): the target logit φ(cos θ) of
//! the margin losses against the angle θ between a feature and its class weight.
//!
//!     cargo run --release --example plot_margins              # writes docs/figures/margins.png
//!     cargo run --release --example plot_margins -- out.png   # anywhere else
//!
//! Every curve is computed by the library's own margin function (`anglegrad::ops::MarginFn`,
//! the φ of `ops/src/metric/margin.rs` that the losses use), divided by the scale s, so the
//! figure shows what the code computes, not a re-derivation. It also prints the values at a
//! few angles.

use std::f64::consts::PI;
use std::path::PathBuf;

use anglegrad::ops::{Fallback, MarginFn};
use anglegrad::train::plots::{line_chart, Series};

/// One curve: its legend and φ as a function of c = cos θ.
struct Curve {
    name: &'static str,
    phi: Box<dyn Fn(f64) -> f64>,
}

fn curves() -> Vec<Curve> {
    let arcface = |fallback| MarginFn::Angular { m: 0.5, fallback };
    let sphereface = MarginFn::Multiplicative { m: 4 };
    // SphereFace trains with λ annealed down to 5 (its reference schedule's floor): the target
    // logit is ‖x‖(λ cos θ + ψ(θ))/(1 + λ); divided by ‖x‖, as the others are divided by s.
    let lambda = 5.0;
    vec![
        Curve {
            name: "softmax / NormFace: cos θ",
            phi: Box::new(|c| c),
        },
        Curve {
            name: "SphereFace m=4, λ=5: (λ cos θ + ψ(θ)) / (1 + λ)",
            phi: Box::new(move |c| (lambda * c + sphereface.value(c)) / (1.0 + lambda)),
        },
        Curve {
            name: "CosFace m=0.35: cos θ − m",
            phi: Box::new(|c| MarginFn::Additive { m: 0.35 }.value(c)),
        },
        Curve {
            name: "ArcFace m=0.5, no fallback: cos(θ + m)",
            phi: Box::new(move |c| arcface(Fallback::None).value(c)),
        },
        Curve {
            name: "ArcFace m=0.5, threshold: cos θ − m·sin m past θ = π − m",
            phi: Box::new(move |c| arcface(Fallback::Threshold).value(c)),
        },
        Curve {
            name: "combined (1, 0.3, 0.2): cos(θ + 0.3) − 0.2",
            phi: Box::new(|c| {
                MarginFn::Combined {
                    m1: 1.0,
                    m2: 0.3,
                    m3: 0.2,
                }
                .value(c)
            }),
        },
    ]
}

fn main() -> anyhow::Result<()> {
    let out = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/figures/margins.png")
        });
    let curves = curves();

    // Quarter-degree steps: the threshold jump of ArcFace at 151.35° shows as a vertical edge.
    let degrees: Vec<f64> = (0..=720).map(|i| i as f64 * 0.25).collect();
    let series: Vec<Series<'_>> = curves
        .iter()
        .map(|curve| Series {
            name: curve.name,
            points: degrees
                .iter()
                .map(|&d| (d, (curve.phi)((d * PI / 180.0).cos())))
                .collect(),
        })
        .collect();

    println!("target logit / s at θ (degrees):");
    let shown = [0.0, 30.0, 60.0, 90.0, 120.0, 150.0, 155.0, 180.0];
    print!("{:<58}", "");
    for d in shown {
        print!("{d:>7}");
    }
    println!();
    for curve in &curves {
        print!("{:<58}", curve.name);
        for d in shown {
            print!("{:>7.3}", (curve.phi)((d * PI / 180.0_f64).cos()));
        }
        println!();
    }

    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    line_chart(
        &out,
        "Target logit / s against the angle to the class weight",
        "θ (degrees)",
        "target logit / s",
        &series,
    )?;
    println!("wrote {}", out.display());
    Ok(())
}
