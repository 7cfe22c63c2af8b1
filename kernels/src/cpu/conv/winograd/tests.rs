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
