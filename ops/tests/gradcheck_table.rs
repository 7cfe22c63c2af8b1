//! The gradient-check table: every op, checked in f64 against central differences.
//!
//! One row per op (and per tricky graph). Inputs are small, random and seeded, drawn away from
//! kinks (relu and abs at 0, ties in max/maximum, clamp bounds). Each row has its own step and
//! tolerances. The test prints how many ops the table covered and the worst row, and fails if
//! any op of `RECORDED_OPS` / `COMPOSITE_OPS` has no row.

use std::collections::BTreeSet;

use anglegrad_engine::{DType, Result, Rng, Tensor};
use anglegrad_ops::gradcheck::{check_gradients_wrt, GradCheck};
use anglegrad_ops::{
    self as ops, BatchNormOptions, Conv2dOptions, Fallback, GradientMode, MarginFn, MarginHead,
    Pool2dOptions, RunningStats, TensorOps, COMPOSITE_OPS, RECORDED_OPS,
};

type OpFn = Box<dyn Fn(&[Tensor]) -> Result<Tensor>>;

struct Row {
    name: &'static str,
    inputs: Vec<Tensor>,
    /// Inputs to differentiate (others are constants).
    wrt: Vec<bool>,
    f: OpFn,
    cfg: GradCheck,
}

struct Inputs {
    rng: Rng,
}

impl Inputs {
    fn normal(&mut self, dims: &[usize]) -> Tensor {
        Tensor::randn(dims, 0.0, 1.0, DType::F64, &mut self.rng).unwrap()
    }
    fn uniform(&mut self, dims: &[usize], lo: f64, hi: f64) -> Tensor {
        Tensor::rand_uniform(dims, lo, hi, DType::F64, &mut self.rng).unwrap()
    }
    /// Values with |x| in [0.2, 1.5] and random sign: away from the kink at 0.
    fn away_from_zero(&mut self, dims: &[usize]) -> Tensor {
        let n: usize = dims.iter().product();
        let v: Vec<f64> = (0..n)
            .map(|_| {
                let m = self.rng.range(0.2, 1.5);
                if self.rng.unit() < 0.5 {
                    -m
                } else {
                    m
                }
            })
            .collect();
        Tensor::from_vec(v, dims).unwrap()
    }
    /// Distinct values (a shuffled arithmetic sequence plus a small jitter): no ties for max.
    fn distinct(&mut self, dims: &[usize]) -> Tensor {
        let n: usize = dims.iter().product();
        let mut v: Vec<f64> = (0..n).map(|i| i as f64 * 0.37 - n as f64 * 0.15).collect();
        self.rng.shuffle(&mut v);
        Tensor::from_vec(v, dims).unwrap()
    }
}

fn row(
    name: &'static str,
    inputs: Vec<Tensor>,
    f: impl Fn(&[Tensor]) -> Result<Tensor> + 'static,
) -> Row {
    let wrt = vec![true; inputs.len()];
    Row {
        name,
        inputs,
        wrt,
        f: Box::new(f),
        cfg: GradCheck::default(),
    }
}

/// Cosines spread over (−1, 1), each at least 0.02 away from every kink of every margin (the
/// ArcFace threshold cos(π − m), easy margin's 0, ψ's thresholds cos(jπ/m), and ±1).
fn margin_row(name: &'static str, margin: MarginFn, g: &mut Inputs) -> Row {
    let kinks: Vec<f64> = [
        0.0,
        -1.0,
        1.0,
        (std::f64::consts::PI - 0.5).cos(),
        0.5,
        -0.5,
    ]
    .into_iter()
    .chain((1..4).map(|j| (j as f64 * std::f64::consts::PI / 4.0).cos()))
    .chain((1..4).map(|j| -(j as f64 * std::f64::consts::PI / 4.0).cos()))
    .collect();
    let mut c = Vec::new();
    while c.len() < 12 {
        let v = g.rng.range(-0.99, 0.99);
        if kinks.iter().all(|k| (v - k).abs() > 0.02) {
            c.push(v);
        }
    }
    let input = Tensor::from_vec(c, [12]).unwrap();
    row(name, vec![input], move |x| {
        ops::target_margin(&x[0], margin, GradientMode::Exact)
    })
}

fn table() -> Vec<Row> {
    let mut g = Inputs { rng: Rng::new(42) };
    let mut rows = vec![
        // ----- unary -----
        row("neg", vec![g.normal(&[3, 4])], |x| x[0].neg()),
        row("exp", vec![g.normal(&[3, 4])], |x| x[0].exp()),
        row("log", vec![g.uniform(&[3, 4], 0.5, 2.0)], |x| x[0].log()),
        row("sqrt", vec![g.uniform(&[3, 4], 0.5, 2.0)], |x| x[0].sqrt()),
        row("abs", vec![g.away_from_zero(&[3, 4])], |x| x[0].abs()),
        row("relu", vec![g.away_from_zero(&[3, 4])], |x| x[0].relu()),
        row("sigmoid", vec![g.normal(&[3, 4])], |x| x[0].sigmoid()),
        row("tanh", vec![g.normal(&[3, 4])], |x| x[0].tanh()),
        row("sin", vec![g.normal(&[3, 4])], |x| x[0].sin()),
        row("cos", vec![g.normal(&[3, 4])], |x| x[0].cos()),
        row("acos", vec![g.uniform(&[3, 4], -0.9, 0.9)], |x| x[0].acos()),
        row("powf", vec![g.uniform(&[3, 4], 0.5, 2.0)], |x| {
            x[0].powf(2.5)
        }),
        row("affine", vec![g.normal(&[3, 4])], |x| {
            x[0].affine(-1.5, 0.25)
        }),
        row(
            "clamp",
            vec![g.away_from_zero(&[3, 4]).scale(1.0).unwrap()],
            |x| {
                // Bounds at ±0.1 lie in the gap (-0.2, 0.2) the inputs avoid: no element sits on
                // a bound, some are clamped (gradient 0) and some pass.
                ops::clamp(&x[0].scale(0.3)?, -0.1, 0.1)?.add(&x[0])
            },
        ),
        // ----- binary, with broadcasting -----
        row("add", vec![g.normal(&[2, 3]), g.normal(&[3])], |x| {
            x[0].add(&x[1])
        }),
        row("sub", vec![g.normal(&[2, 1, 3]), g.normal(&[4, 1])], |x| {
            x[0].sub(&x[1])
        }),
        row("mul", vec![g.normal(&[2, 3]), g.normal(&[2, 1])], |x| {
            x[0].mul(&x[1])
        }),
        row(
            "div",
            vec![g.normal(&[2, 3]), g.away_from_zero(&[3])],
            |x| x[0].div(&x[1]),
        ),
        row(
            "maximum",
            vec![
                g.distinct(&[2, 3]),
                g.distinct(&[2, 3]).add_scalar(0.05).unwrap(),
            ],
            |x| x[0].maximum(&x[1]),
        ),
        row(
            "minimum",
            vec![
                g.distinct(&[2, 3]),
                g.distinct(&[3]).add_scalar(0.05).unwrap(),
            ],
            |x| x[0].minimum(&x[1]),
        ),
        row(
            "pow",
            vec![g.uniform(&[2, 3], 0.5, 2.0), g.normal(&[2, 3])],
            |x| x[0].pow(&x[1]),
        ),
        // ----- where (cond is a constant mask) -----
        Row {
            wrt: vec![false, true, true],
            ..row(
                "where",
                vec![
                    Tensor::from_vec(vec![1.0, 0.0, 1.0, 0.0, 0.0, 1.0], [2, 3]).unwrap(),
                    g.normal(&[2, 3]),
                    g.normal(&[3]),
                ],
                |x| ops::where_(&x[0], &x[1], &x[2]),
            )
        },
        // ----- reductions -----
        row("sum", vec![g.normal(&[2, 3, 4])], |x| {
            x[0].sum(&[0, 2], false)
        }),
        row("sum keepdim", vec![g.normal(&[2, 3, 4])], |x| {
            x[0].sum(&[1], true)
        }),
        row("max", vec![g.distinct(&[3, 5])], |x| x[0].max(1, false)),
        row("logsumexp", vec![g.normal(&[3, 5])], |x| {
            x[0].logsumexp(1, true)
        }),
        // ----- movement -----
        row("reshape", vec![g.normal(&[2, 6])], |x| {
            x[0].reshape(&[3, 4])?.mul(&x[0].reshape(&[3, 4])?)
        }),
        row("permute", vec![g.normal(&[2, 3, 4])], |x| {
            x[0].permute(&[2, 0, 1])
        }),
        row("broadcast_to", vec![g.normal(&[3, 1])], |x| {
            x[0].broadcast_to(&[2, 3, 4])
        }),
        row("narrow", vec![g.normal(&[4, 5])], |x| x[0].narrow(1, 1, 3)),
        row(
            "concat",
            vec![
                g.normal(&[2, 1, 3]),
                g.normal(&[2, 2, 3]),
                g.normal(&[2, 1, 3]),
            ],
            |x| ops::concat(&[&x[0], &x[1], &x[2]], 1),
        ),
        row("index_select", vec![g.normal(&[4, 3])], |x| {
            x[0].index_select(0, &[2, 0, 2, 3])
        }),
        row("gather", vec![g.normal(&[3, 4])], |x| {
            ops::gather(&x[0], 1, &[3, 0, 1, 1, 2, 0], &[3, 2])
        }),
        row(
            "scatter_add",
            vec![g.normal(&[3, 4]), g.normal(&[3, 2])],
            |x| ops::scatter_add(&x[0], 1, &[3, 0, 1, 1, 2, 0], &[3, 2], &x[1]),
        ),
        // ----- matmul -----
        row("matmul", vec![g.normal(&[3, 4]), g.normal(&[4, 5])], |x| {
            x[0].matmul(&x[1])
        }),
        row(
            "matmul Aᵀ·Bᵀ",
            vec![g.normal(&[4, 3]), g.normal(&[5, 4])],
            |x| x[0].matmul_t(&x[1], true, true),
        ),
        row(
            "matmul batched",
            vec![g.normal(&[2, 3, 4]), g.normal(&[2, 4, 5])],
            |x| x[0].matmul(&x[1]),
        ),
        row(
            "matmul batch × weight",
            vec![g.normal(&[2, 3, 4]), g.normal(&[5, 4])],
            |x| x[0].matmul_t(&x[1], false, true),
        ),
        row(
            "matmul weightᵀ × batch",
            vec![g.normal(&[4, 3]), g.normal(&[2, 4, 5])],
            |x| x[0].matmul_t(&x[1], true, false),
        ),
        // ----- fused cross-entropy -----
        row("cross_entropy", vec![g.normal(&[4, 5])], |x| {
            ops::cross_entropy(&x[0], &[1, 0, 4, 1])
        }),
        // ----- cast (through f32: a coarser step and tolerance) -----
        Row {
            cfg: GradCheck {
                step: 1e-2,
                rtol: 1e-4,
                atol: 1e-6,
                ..GradCheck::default()
            },
            ..row("to_dtype", vec![g.normal(&[3, 4])], |x| {
                x[0].to_dtype(DType::F32)?.square()?.to_dtype(DType::F64)
            })
        },
        // ----- composites -----
        row("mean", vec![g.normal(&[3, 4])], |x| x[0].mean(&[1], false)),
        row("min", vec![g.distinct(&[3, 4])], |x| x[0].min(0, true)),
        row("transpose", vec![g.normal(&[3, 4])], |x| {
            x[0].transpose(0, 1)
        }),
        row("l2_normalize", vec![g.normal(&[3, 4])], |x| {
            x[0].l2_normalize(1, 1e-12)
        }),
        row(
            "cosine_similarity",
            vec![g.normal(&[3, 4]), g.normal(&[5, 4])],
            |x| ops::cosine_similarity(&x[0], &x[1], 1e-12),
        ),
        row("softmax", vec![g.normal(&[3, 5])], |x| x[0].softmax(1)),
        row("log_softmax", vec![g.normal(&[3, 5])], |x| {
            x[0].log_softmax(1)
        }),
        // ----- metric ops -----
        row(
            "pairwise_sq_dist",
            vec![g.normal(&[4, 3]), g.normal(&[5, 3])],
            |x| ops::pairwise_sq_dist(&x[0], &x[1]),
        ),
        row(
            "pairwise_dist",
            vec![g.normal(&[4, 3]), g.normal(&[5, 3])],
            |x| ops::pairwise_dist(&x[0], &x[1]),
        ),
        row("safe_sqrt", vec![g.uniform(&[3, 4], 0.5, 2.0)], |x| {
            ops::safe_sqrt(&x[0])
        }),
        row(
            "pairwise_sq_dist_expanded",
            vec![g.normal(&[4, 3]), g.normal(&[5, 3])],
            |x| ops::pairwise_sq_dist_expanded(&x[0], &x[1]),
        ),
        row("topk", vec![g.distinct(&[3, 6])], |x| {
            Ok(ops::topk(&x[0], 2, 1, true)?.0)
        }),
        row("segment_sum", vec![g.normal(&[5, 3])], |x| {
            ops::segment_sum(&x[0], &[2, 0, 2, 1, 2], 4)
        }),
        row("segment_mean", vec![g.normal(&[5, 3])], |x| {
            ops::segment_mean(&x[0], &[2, 0, 2, 1, 2], 4)
        }),
        row("soft_histogram", vec![g.uniform(&[6], 0.0, 1.0)], |x| {
            let centres: Vec<f64> = (0..20).map(|r| r as f64 / 20.0).collect();
            ops::soft_histogram_normalized(&x[0], &centres, 0.1)
        }),
        margin_row(
            "target_margin cosface",
            MarginFn::Additive { m: 0.35 },
            &mut g,
        ),
        margin_row(
            "target_margin arcface threshold",
            MarginFn::Angular {
                m: 0.5,
                fallback: Fallback::Threshold,
            },
            &mut g,
        ),
        margin_row(
            "target_margin arcface easy margin",
            MarginFn::Angular {
                m: 0.5,
                fallback: Fallback::EasyMargin,
            },
            &mut g,
        ),
        margin_row(
            "target_margin arcface none",
            MarginFn::Angular {
                m: 0.5,
                fallback: Fallback::None,
            },
            &mut g,
        ),
        margin_row(
            "target_margin arcface acos",
            MarginFn::AngularAcos { m: 0.5 },
            &mut g,
        ),
        margin_row(
            "target_margin combined",
            MarginFn::Combined {
                m1: 1.0,
                m2: 0.3,
                m3: 0.2,
            },
            &mut g,
        ),
        margin_row(
            "target_margin combined m1 0.9",
            MarginFn::Combined {
                m1: 0.9,
                m2: 0.4,
                m3: 0.15,
            },
            &mut g,
        ),
        margin_row(
            "target_margin psi m=1",
            MarginFn::Multiplicative { m: 1 },
            &mut g,
        ),
        margin_row(
            "target_margin psi m=2",
            MarginFn::Multiplicative { m: 2 },
            &mut g,
        ),
        margin_row(
            "target_margin psi m=3",
            MarginFn::Multiplicative { m: 3 },
            &mut g,
        ),
        margin_row(
            "target_margin psi m=4",
            MarginFn::Multiplicative { m: 4 },
            &mut g,
        ),
        // ----- convolution, pooling, normalisation -----
        row(
            "conv2d",
            vec![
                g.normal(&[2, 3, 5, 5]),
                g.normal(&[4, 3, 3, 3]),
                g.normal(&[4]),
            ],
            |x| ops::conv2d(&x[0], &x[1], Some(&x[2]), Conv2dOptions::new(1, 1)),
        ),
        row(
            "conv2d stride 2 dilation 2",
            vec![g.normal(&[1, 2, 7, 6]), g.normal(&[3, 2, 2, 3])],
            |x| {
                ops::conv2d(
                    &x[0],
                    &x[1],
                    None,
                    Conv2dOptions {
                        stride: (2, 1),
                        padding: (1, 2),
                        dilation: (2, 1),
                        groups: 1,
                    },
                )
            },
        ),
        row(
            "conv2d groups 2",
            vec![g.normal(&[2, 4, 4, 4]), g.normal(&[6, 2, 3, 3])],
            |x| ops::conv2d(&x[0], &x[1], None, Conv2dOptions::new(2, 1).groups(2)),
        ),
        row(
            "conv2d depthwise",
            vec![
                g.normal(&[1, 3, 5, 5]),
                g.normal(&[3, 1, 3, 3]),
                g.normal(&[3]),
            ],
            |x| {
                ops::conv2d(
                    &x[0],
                    &x[1],
                    Some(&x[2]),
                    Conv2dOptions::new(1, 1).groups(3),
                )
            },
        ),
        row(
            "conv2d 1x1",
            vec![g.normal(&[2, 3, 3, 3]), g.normal(&[5, 3, 1, 1])],
            |x| ops::conv2d(&x[0], &x[1], None, Conv2dOptions::default()),
        ),
        row("max_pool2d", vec![g.distinct(&[2, 2, 5, 5])], |x| {
            ops::max_pool2d(&x[0], Pool2dOptions::new(3, 2, 1))
        }),
        row("avg_pool2d", vec![g.normal(&[2, 2, 5, 5])], |x| {
            ops::avg_pool2d(&x[0], Pool2dOptions::new(3, 2, 1), true)
        }),
        row(
            "avg_pool2d exclude pad",
            vec![g.normal(&[1, 2, 4, 5])],
            |x| ops::avg_pool2d(&x[0], Pool2dOptions::new(2, 2, 1), false),
        ),
        row("global_avg_pool", vec![g.normal(&[2, 3, 4, 4])], |x| {
            ops::global_avg_pool(&x[0])
        }),
        row(
            "batch_norm",
            vec![g.normal(&[4, 3, 2, 2]), g.normal(&[3]), g.normal(&[3])],
            |x| {
                ops::batch_norm(
                    &x[0],
                    Some(&x[1]),
                    Some(&x[2]),
                    None,
                    BatchNormOptions::default(),
                )
            },
        ),
        row("batch_norm 1d no affine", vec![g.normal(&[5, 3])], |x| {
            ops::batch_norm(&x[0], None, None, None, BatchNormOptions::default())?.square()
        }),
        row(
            "batch_norm eval",
            vec![g.normal(&[3, 2, 2, 2]), g.normal(&[2]), g.normal(&[2])],
            |x| {
                let mut stats = RunningStats {
                    mean: Tensor::from_vec(vec![0.3, -0.2], [2])?,
                    var: Tensor::from_vec(vec![1.5, 0.7], [2])?,
                };
                let eval = BatchNormOptions {
                    training: false,
                    ..BatchNormOptions::default()
                };
                ops::batch_norm(&x[0], Some(&x[1]), Some(&x[2]), Some(&mut stats), eval)
            },
        ),
        row(
            "prelu",
            vec![g.away_from_zero(&[2, 3, 2, 2]), g.normal(&[3])],
            |x| ops::prelu(&x[0], &x[1]),
        ),
        row(
            "prelu shared slope",
            vec![g.away_from_zero(&[4, 5]), g.normal(&[1])],
            |x| ops::prelu(&x[0], &x[1]),
        ),
        row("dropout", vec![g.normal(&[4, 6])], |x| {
            ops::dropout(&x[0], 0.4, 17)
        }),
        row(
            "fused_margin_softmax",
            vec![g.normal(&[5, 4]), g.normal(&[7, 4])],
            |x| {
                let arc = MarginFn::Angular {
                    m: 0.5,
                    fallback: Fallback::Threshold,
                };
                let head = MarginHead {
                    chunk: 3,
                    ..MarginHead::new(8.0, Some((arc, GradientMode::Exact)))
                };
                ops::fused_margin_softmax_rows(&x[0], &x[1], &[6, 0, 3, 3, 1], head)
            },
        ),
        // ----- graphs that break naive engines -----
        row(
            "graph: tensor used three times",
            vec![g.normal(&[3])],
            |x| x[0].mul(&x[0])?.add(&x[0])?.mul(&x[0].sin()?),
        ),
        row(
            "graph: broadcast in both operands",
            vec![g.normal(&[2, 1]), g.normal(&[1, 3])],
            |x| x[0].mul(&x[1])?.exp(),
        ),
        row(
            "graph: loss over part of a tensor",
            vec![g.normal(&[4, 3])],
            |x| x[0].exp()?.narrow(0, 1, 2)?.sum_all(),
        ),
        row(
            "graph: two-layer perceptron",
            vec![
                g.normal(&[5, 3]),
                g.normal(&[3, 4]),
                g.normal(&[4]),
                g.normal(&[4, 2]),
            ],
            |x| {
                let h = x[0].matmul(&x[1])?.add(&x[2])?.tanh()?;
                ops::cross_entropy(&h.matmul(&x[3])?, &[0, 1, 1, 0, 1])
            },
        ),
    ];
    for r in &mut rows {
        r.cfg.seed = r.name.len() as u64;
        // Convolutions are linear in each input, so a central difference has no truncation
        // error at any step; a larger step keeps the rounding error of their long sums small.
        if r.name.starts_with("conv2d") {
            r.cfg.step = 1e-3;
        }
    }
    rows
}

/// Runs the table (a `harness = false` test: its summary line shows in every `cargo test`).
fn main() {
    let rows = table();
    let mut covered: BTreeSet<&str> = BTreeSet::new();
    let mut failures = Vec::new();
    let mut worst = (0.0f64, "");
    let mut elements = 0;
    for r in &rows {
        match check_gradients_wrt(&r.f, &r.inputs, &r.wrt, &r.cfg) {
            Ok(report) if report.max_abs_grad == 0.0 => {
                failures.push(format!(
                    "{}: the gradient is all zeros, so the row checks nothing",
                    r.name
                ));
            }
            Ok(report) => {
                covered.extend(report.ops.iter().copied());
                covered.insert(r.name);
                elements += report.elements;
                if report.budget_used > worst.0 {
                    worst = (report.budget_used, r.name);
                }
            }
            Err(e) => failures.push(format!("{}: {e}", r.name)),
        }
    }
    let missing: Vec<&&str> = RECORDED_OPS
        .iter()
        .chain(COMPOSITE_OPS)
        .filter(|op| !covered.contains(**op))
        .collect();
    println!(
        "gradient check: {} ops ({} recorded + {} composite) in {} rows, {} gradient elements; \
         worst row {:?} used {:.3} of its tolerance budget",
        RECORDED_OPS.len() + COMPOSITE_OPS.len(),
        RECORDED_OPS.len(),
        COMPOSITE_OPS.len(),
        rows.len(),
        elements,
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
        "ops with no gradient-check row: {missing:?}"
    );
}
