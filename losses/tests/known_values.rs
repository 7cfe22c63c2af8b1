//! Every worked example of LOSSES.md as a test (f64, to the printed precision).

use anglegrad_engine::{DType, Tape, Tensor};
use anglegrad_losses::center::{center_loss, update_centers, CenterMode};
use anglegrad_losses::ddl::{histogram_kl, Ddl};
use anglegrad_losses::deepid2::DeepId2;
use anglegrad_losses::focal::Focal;
use anglegrad_losses::large_margin::LargeMargin;
use anglegrad_losses::range::Range;
use anglegrad_losses::sv_softmax::{sv_softmax, SvBase};
use anglegrad_losses::triplet::{Mining, Reduction, Triplet};
use anglegrad_losses::{arcface, cosface, normface};
use anglegrad_ops::{self as ops, TensorOps};

fn t(v: &[f64], dims: &[usize]) -> Tensor {
    Tensor::from_f64s(v, dims, DType::F64).unwrap()
}

fn close(got: f64, want: f64, tol: f64) {
    assert!((got - want).abs() <= tol, "got {got}, want {want}");
}

/// x = ‖x‖·e1 and unit class weights whose cosines with x are the given values (3-D, one
/// free axis per class so each weight can be unit length).
fn head(norm: f64, cosines: &[f64]) -> (Tensor, Tensor) {
    let c = cosines.len();
    let mut w = vec![0.0; c * (c + 1)];
    for (j, &cj) in cosines.iter().enumerate() {
        w[j * (c + 1)] = cj;
        w[j * (c + 1) + j + 1] = (1.0 - cj * cj).sqrt();
    }
    let mut x = vec![0.0; c + 1];
    x[0] = norm;
    (t(&x, &[1, c + 1]), t(&w, &[c, c + 1]))
}

fn value(l: anglegrad_engine::Result<Tensor>) -> f64 {
    l.unwrap().to_scalar_f64().unwrap()
}

#[test]
fn section_1_cross_entropy_and_focal() {
    // z = (2, 1, 0), y = 0: CE = 0.407606, p = 0.665241, FL(γ 2, α 1) = (1 − p)² · CE = 0.045678.
    let z = t(&[2.0, 1.0, 0.0], &[1, 3]);
    close(value(ops::cross_entropy(&z, &[0])), 0.407606, 1e-6);
    close(value(Focal::default().loss(&z, &[0])), 0.045678, 1e-6);
}

#[test]
fn section_2_deepid2_verification() {
    // f_i = (0, 0), f_j = (0.6, 0.8): d = 1. Same identity: ½ d² = 0.5; different with m = 1.5:
    // ½ (1.5 − 1)² = 0.125; different with m = 0.8: the hinge is inactive, 0.
    let f = t(&[0.0, 0.0, 0.6, 0.8], &[2, 2]);
    close(
        value(
            DeepId2 {
                lambda: 1.0,
                m: 1.0,
            }
            .verification(&f, &[3, 3]),
        ),
        0.5,
        1e-12,
    );
    close(
        value(
            DeepId2 {
                lambda: 1.0,
                m: 1.5,
            }
            .verification(&f, &[3, 4]),
        ),
        0.125,
        1e-12,
    );
    close(
        value(
            DeepId2 {
                lambda: 1.0,
                m: 0.8,
            }
            .verification(&f, &[3, 4]),
        ),
        0.0,
        1e-12,
    );
}

#[test]
fn section_3_triplet_arithmetic() {
    // a = (0, 0), p = (0.3, 0.4), n = (0.6, 0): D²_ap = 0.25, D²_an = 0.36, α = 0.2:
    // loss 0.25 − 0.36 + 0.2 = 0.09 (semi-hard: 0 < 0.11 <= 0.2). Gradients of that one
    // triplet: ∂/∂a = 2(n − p) = (0.6, −0.8), ∂/∂p = 2(p − a) = (0.6, 0.8), ∂/∂n = 2(a − n) = (−1.2, 0).
    let x0 = t(&[0.0, 0.0, 0.3, 0.4, 0.6, 0.0], &[3, 2]);
    let triplet = Triplet {
        normalize: false,
        mining: Mining::All,
        reduction: Reduction::Sum,
        ..Triplet::default()
    };
    let one = triplet.mine(
        &ops::pairwise_sq_dist(&x0, &x0).unwrap().to_vec_f64(),
        &[0, 0, 1],
    );
    assert_eq!(one, vec![(0, 1, 2), (1, 0, 2)]);
    // The loss and gradients of the triplet (a, p, n) = (0, 1, 2) on its own, on the raw points.
    let tape = Tape::new();
    let x = tape.watch(&x0);
    let d = ops::pairwise_sq_dist(&x, &x).unwrap();
    let ell = anglegrad_losses::pairs::entries(&d, &[(0, 1)])
        .unwrap()
        .sub(&anglegrad_losses::pairs::entries(&d, &[(0, 2)]).unwrap())
        .unwrap()
        .add_scalar(0.2)
        .unwrap()
        .relu()
        .unwrap()
        .sum_all()
        .unwrap();
    close(ell.to_scalar_f64().unwrap(), 0.09, 1e-12);
    let g = tape.backward(&ell).unwrap().wrt(&x0).unwrap().to_vec_f64();
    let want = [0.6, -0.8, 0.6, 0.8, -1.2, 0.0];
    for (a, b) in g.iter().zip(want) {
        close(*a, b, 1e-12);
    }
    // Semi-hard mining keeps it (0 < D_an − D_ap = 0.11 <= α).
    let semi = Triplet {
        mining: Mining::SemiHard,
        ..triplet
    };
    assert!(semi.mine(&d.to_vec_f64(), &[0, 0, 1]).contains(&(0, 1, 2)));
}

#[test]
fn section_5_sphereface() {
    // ‖x‖ = 10, cosines (0.8, 0.3, −0.2), y = 0, m = 4: ψ(0.8) = −0.8432, λ = 0: logits
    // (−8.432, 3, −2), loss 11.4387; λ = 5: target (40 − 8.432)/6 = 5.2613, loss 0.099767.
    let (x, w) = head(10.0, &[0.8, 0.3, -0.2]);
    let sf = LargeMargin::sphereface();
    let logits = sf.logits(&x, &w, &[0]).unwrap().to_vec_f64();
    close(logits[0], -8.432, 1e-3);
    close(logits[1], 3.0, 1e-9); // ε of the weight normalisation: ~1e-12 relative
    close(value(sf.loss(&x, &w, &[0])), 11.4387, 1e-4);
    let annealed = LargeMargin { lambda: 5.0, ..sf };
    close(
        annealed.logits(&x, &w, &[0]).unwrap().to_vec_f64()[0],
        5.2613,
        1e-4,
    );
    close(value(annealed.loss(&x, &w, &[0])), 0.099767, 1e-6);
}

#[test]
fn section_6_normface() {
    // cosines (0.8, 0.3, −0.2), s = 10: CE((8, 3, −2), 0) = ln(1 + e^−5 + e^−10) = 0.0067604.
    let (x, w) = head(1.0, &[0.8, 0.3, -0.2]);
    close(
        value(normface::normface(10.0).loss("normface", &x, &w, &[0])),
        0.0067604,
        1e-7,
    );
}

#[test]
fn section_7_cosface() {
    // s = 30, m = 0.35: logits (13.5, 9, −6), loss 0.0110477; s = 64: 6.7726e−5.
    let (x, w) = head(1.0, &[0.8, 0.3, -0.2]);
    let logits = cosface::cosface(30.0, 0.35)
        .logits("cosface", &x, &w, &[0])
        .unwrap()
        .to_vec_f64();
    for (a, b) in logits.iter().zip([13.5, 9.0, -6.0]) {
        close(*a, b, 1e-9);
    }
    close(
        value(cosface::cosface(30.0, 0.35).loss("cosface", &x, &w, &[0])),
        0.0110477,
        1e-7,
    );
    close(
        value(cosface::cosface(64.0, 0.35).loss("cosface", &x, &w, &[0])),
        6.7726e-5,
        1e-9,
    );
}

#[test]
fn section_8_arcface_and_combined() {
    // c_y = 0.8: cos(θ + 0.5) = 0.414411; s = 64: logits (26.522, 19.2, −12.8), loss 6.6043e−4.
    // Combined (1, 0.3, 0.2) on c_y = 0.8: 0.386957.
    let (x, w) = head(1.0, &[0.8, 0.3, -0.2]);
    let arc = arcface::arcface_default();
    let logits = arc.logits("arcface", &x, &w, &[0]).unwrap().to_vec_f64();
    close(logits[0], 26.522, 1e-3);
    close(value(arc.loss("arcface", &x, &w, &[0])), 6.6043e-4, 1e-8);
    let comb = arcface::combined(1.0, 1.0, 0.3, 0.2)
        .logits("combined", &x, &w, &[0])
        .unwrap();
    close(comb.to_vec_f64()[0], 0.386957, 1e-6);
}

#[test]
fn section_9_center_loss_and_update() {
    // x = (1, 0), (0, 1) of class 0 and (2, 2) of class 1; c_0 = (0, 0), c_1 = (1, 1):
    // L_C = ½(1 + 1 + 2) = 2. α = 0.5: Δc_0 = ((0,0) − (1,0) + (0,0) − (0,1))/3 = (−1/3, −1/3)
    // -> c_0 = (1/6, 1/6); Δc_1 = (−1, −1)/2 -> c_1 = (1.25, 1.25).
    let x = t(&[1.0, 0.0, 0.0, 1.0, 2.0, 2.0], &[3, 2]);
    let c = t(&[0.0, 0.0, 1.0, 1.0], &[2, 2]);
    close(
        value(center_loss(&x, &c, &[0, 0, 1], CenterMode::Paper)),
        2.0,
        1e-12,
    );
    let moved = update_centers(&c, &x, &[0, 0, 1], 0.5)
        .unwrap()
        .to_vec_f64();
    for (a, b) in moved.iter().zip([1.0 / 6.0, 1.0 / 6.0, 1.25, 1.25]) {
        close(*a, b, 1e-12);
    }
}

#[test]
fn section_10_range_loss() {
    // X_A = {(0,0), (3,0), (0,4)}: squared distances 25, 16, 9 -> k = 2: 2/(1/25 + 1/16) =
    // 19.5122 (non-squared 2/(1/5 + 1/4) = 4.4444). X_B = {(10,0), (10,2)}: one pair, D = 4
    // (non-squared 2). Centres (1, 4/3) and (10, 1): D_ctr = 81.111; m = 100: L_inter = 18.889.
    let x = t(
        &[0.0, 0.0, 3.0, 0.0, 0.0, 4.0, 10.0, 0.0, 10.0, 2.0],
        &[5, 2],
    );
    let labels = [0, 0, 0, 1, 1];
    let intra = Range {
        alpha: 1.0,
        beta: 0.0,
        m: 100.0,
        ..Range::default()
    };
    close(value(intra.loss(&x, &labels)), 19.5122 + 4.0, 1e-4);
    let intra_plain = Range {
        squared: false,
        ..intra
    };
    close(value(intra_plain.loss(&x, &labels)), 4.4444 + 2.0, 1e-4);
    let inter = Range {
        alpha: 0.0,
        beta: 1.0,
        m: 100.0,
        ..Range::default()
    };
    close(value(inter.loss(&x, &labels)), 18.889, 1e-3);
}

#[test]
fn section_11_mv_am() {
    // cosines (0.5, 0.45, 0.1), y = 0, m = 0.35, t = 1.2, s = 32: f_y = 0.15; class 1 is hard
    // (0.45 > 0.15) -> 1.2·0.45 + 0.2 = 0.74; logits (4.8, 23.68, 3.2) -> loss 18.8800.
    // Plain AM (t = 1): 9.6001.
    let (x, w) = head(1.0, &[0.5, 0.45, 0.1]);
    let mv = sv_softmax(32.0, SvBase::Additive { m: 0.35 }, 1.2, true);
    let logits = mv.logits("mv_am", &x, &w, &[0]).unwrap().to_vec_f64();
    for (a, b) in logits.iter().zip([4.8, 23.68, 3.2]) {
        close(*a, b, 1e-9);
    }
    close(value(mv.loss("mv_am", &x, &w, &[0])), 18.8800, 1e-4);
    close(
        value(cosface::cosface(32.0, 0.35).loss("cosface", &x, &w, &[0])),
        9.6001,
        1e-4,
    );
}

#[test]
fn section_12_ddl() {
    // One similarity 0.6 (teacher) vs 0.5 (student): KL = 0.49989 (≈ Δμ²/(2σ²) = 0.5);
    // {0.7, 0.5} vs {0.6, 0.4}: 0.27774.
    close(
        value(histogram_kl(&t(&[0.6], &[1]), &t(&[0.5], &[1]), 1000, 0.1)),
        0.49989,
        1e-5,
    );
    close(
        value(histogram_kl(
            &t(&[0.7, 0.5], &[2]),
            &t(&[0.6, 0.4], &[2]),
            1000,
            0.1,
        )),
        0.27774,
        1e-5,
    );
    // Order loss with negative means 0.2 (teacher), 0.3 (student) and positive means 0.6, 0.5:
    // (0.2 − 0.6) + (0.2 − 0.5) + (0.3 − 0.6) + (0.3 − 0.5) = −1.2. Three unit rows, labels
    // (0, 0, 1), built to have those means: the teacher's S⁺ = {0.6}, S⁻ = {0, 0.6, 0}; the
    // student's S⁺ = {0.5}, S⁻ = {0.6, 0.3, 0}.
    let c = (1.0f64 - 0.75 * 0.75).sqrt();
    let teacher = t(&[1.0, 0.0, 0.0, 0.6, 0.8, 0.0, 0.0, 0.75, c], &[3, 3]);
    let s = 0.75f64.sqrt();
    let student = t(&[1.0, 0.0, 0.0, 0.5, s, 0.0, 0.6, 0.0, 0.8], &[3, 3]);
    let only_order = Ddl {
        w_pos: 0.0,
        w_neg: 0.0,
        w_ord: 1.0,
        ..Ddl::default()
    };
    close(
        value(only_order.loss(&student, &teacher, &[0, 0, 1])),
        -1.2,
        1e-9,
    );
}
