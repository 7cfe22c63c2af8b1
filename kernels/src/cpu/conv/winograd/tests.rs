//! The written-out 1-D transforms of `transforms` against the matrices of `super`.

use super::transforms::*;
use super::*;

fn lanes(v: &[f32]) -> Vec<V8> {
    v.iter().map(|&x| V8([x; 8])).collect()
}

fn close(a: f32, b: f32) -> bool {
    (a - b).abs() <= 1e-5 * (1.0 + b.abs())
}

#[test]
fn tile_transforms_match_the_matrices() {
    let d: Vec<f32> = (0..36).map(|i| ((i * 7 % 11) as f32 - 5.0) * 0.3).collect();
    // V = Bᵀ d B
    let dd: [[V8; A]; A] = std::array::from_fn(|a| std::array::from_fn(|b| V8([d[a * A + b]; 8])));
    let v = input_tile(&dd);
    for i in 0..A {
        for j in 0..A {
            let want: f32 = (0..A)
                .flat_map(|a| (0..A).map(move |b| (a, b)))
                .map(|(a, b)| BT[i][a] * d[a * A + b] * BT[j][b])
                .sum();
            assert!(
                close(v[i][j].0[3], want),
                "input ({i},{j}): {} vs {want}",
                v[i][j].0[3]
            );
        }
    }
    // Y = Aᵀ M A and Ŷ = A ∂Y Aᵀ for both tile sizes.
    for (m, at) in [(4usize, &AT_4[..]), (2, &AT_2[..])] {
        let y: Vec<[f32; 8]> = if m == 4 {
            output_tile::<4>(&dd)
                .iter()
                .flatten()
                .map(|v| v.0)
                .collect()
        } else {
            output_tile::<2>(&dd)
                .iter()
                .flatten()
                .map(|v| v.0)
                .collect()
        };
        for r in 0..m {
            for c in 0..m {
                let want: f32 = (0..A)
                    .flat_map(|i| (0..A).map(move |j| (i, j)))
                    .map(|(i, j)| at[r][i] * d[i * A + j] * at[c][j])
                    .sum();
                assert!(close(y[r * m + c][0], want), "output m={m} ({r},{c})");
            }
        }
        let g = lanes(&d[..m * m]);
        let gt: Vec<[f32; 8]> = if m == 4 {
            grad_tile::<4>(&std::array::from_fn(|r| {
                std::array::from_fn(|c| g[r * 4 + c])
            }))
            .iter()
            .flatten()
            .map(|v| v.0)
            .collect()
        } else {
            grad_tile::<2>(&std::array::from_fn(|r| {
                std::array::from_fn(|c| g[r * 2 + c])
            }))
            .iter()
            .flatten()
            .map(|v| v.0)
            .collect()
        };
        for i in 0..A {
            for j in 0..A {
                let want: f32 = (0..m)
                    .flat_map(|r| (0..m).map(move |c| (r, c)))
                    .map(|(r, c)| at[r][i] * d[r * m + c] * at[c][j])
                    .sum();
                assert!(close(gt[i * A + j][5], want), "grad m={m} ({i},{j})");
            }
        }
    }
    // U = G g Gᵀ and ∂g = Gᵀ ∂U G.
    for r in [3usize, 5] {
        let gm = g_matrix(r);
        let gg: [[V8; 5]; 5] = std::array::from_fn(|a| {
            std::array::from_fn(|b| V8([if a < r && b < r { d[a * r + b] } else { 0.0 }; 8]))
        });
        let u = kernel_tile(gm, r, &gg);
        let dg = kernel_grad(gm, r, &dd);
        for i in 0..A {
            for j in 0..A {
                let want: f32 = (0..r)
                    .flat_map(|a| (0..r).map(move |b| (a, b)))
                    .map(|(a, b)| gm[i][a] * d[a * r + b] * gm[j][b])
                    .sum();
                assert!(close(u[i][j].0[1], want), "kernel r={r} ({i},{j})");
            }
        }
        for a in 0..r {
            for b in 0..r {
                let want: f32 = (0..A)
                    .flat_map(|i| (0..A).map(move |j| (i, j)))
                    .map(|(i, j)| gm[i][a] * d[i * A + j] * gm[j][b])
                    .sum();
                assert!(close(dg[a][b].0[7], want), "kernel grad r={r} ({a},{b})");
            }
        }
    }
}

/// The kernel buffers a thread keeps stay bounded however often the passes run, on both of
/// backward-weight's strategies (per-task accumulators with two threads, one shared dU with
/// one). A dU allocated by the parallel strategy was once handed to the pool that had not
/// lent it, and the pool grew by one buffer per call (gigabytes over a training run).
#[test]
fn kernel_buffers_stay_bounded() {
    let p = Conv2dParams::square(4, 16, 12, 16, 3, 1, 1);
    let x: Vec<f32> = (0..p.x_len()).map(|i| (i % 13) as f32 * 0.1).collect();
    let w: Vec<f32> = (0..p.w_len()).map(|i| (i % 7) as f32 * 0.05).collect();
    let dy: Vec<f32> = (0..p.y_len()).map(|i| (i % 5) as f32 * 0.2).collect();
    let (mut y, mut dw) = (vec![0.0; p.y_len()], vec![0.0; p.w_len()]);
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            for _ in 0..50 {
                forward(&p, &x, &w, None, &mut y);
                backward_weight(&p, &x, &dy, &mut dw);
            }
            let kept = weights::pooled_buffers();
            assert!(
                kept <= weights::MAX_POOLED,
                "{threads} threads: this thread keeps {kept} buffers"
            );
            assert!(
                kept >= POINTS,
                "{threads} threads: the forward's buffers were not kept"
            );
        });
    }
}
