//! Batch-norm fast paths against the reference loops (f64 reference, f32 and f64 fast).

use super::*;
use crate::cpu::testutil::{pool, Report, Rng};

#[test]
fn batch_norm_matches_reference() {
    let mut rng = Rng(21);
    let mut rep = Report::new("batch_norm f32 train fwd/bwd", 1e-5);
    let mut rep64 = Report::new("batch_norm f64 train fwd/bwd", 1e-13);
    for sh in [(1, 1, 7), (2, 3, 33), (4, 7, 1), (3, 5, 1031), (33, 2, 4)] {
        let sh = BatchNormShape {
            n: sh.0,
            c: sh.1,
            s: sh.2,
        };
        let case = format!("{sh:?}");
        let x: Vec<f64> = rng
            .vec::<f64>(sh.len())
            .iter()
            .map(|v| 3.0 * v + 1.5)
            .collect();
        let dy: Vec<f64> = rng.vec(sh.len());
        let (g, b): (Vec<f64>, Vec<f64>) = (rng.vec(sh.c), rng.vec(sh.c));
        let run = |fast: bool| {
            let (mut y, mut sm, mut si) = (vec![0.0; sh.len()], vec![0.0; sh.c], vec![0.0; sh.c]);
            let (mut rm, mut rv) = (vec![0.5; sh.c], vec![2.0; sh.c]);
            let (mut dx, mut dg, mut db) = (vec![0.0; sh.len()], vec![0.0; sh.c], vec![0.0; sh.c]);
            let run = Some((&mut rm[..], &mut rv[..]));
            if fast {
                batch_norm_forward_train(
                    &sh,
                    &x,
                    Some(&g),
                    Some(&b),
                    1e-5,
                    0.1,
                    run,
                    &mut y,
                    &mut sm,
                    &mut si,
                );
                batch_norm_backward(&sh, &x, &dy, Some(&g), &sm, &si, &mut dx, &mut dg, &mut db);
            } else {
                batch_norm_forward_train_ref(
                    &sh,
                    &x,
                    Some(&g),
                    Some(&b),
                    1e-5,
                    0.1,
                    run,
                    &mut y,
                    &mut sm,
                    &mut si,
                );
                batch_norm_backward_ref(
                    &sh,
                    &x,
                    &dy,
                    Some(&g),
                    &sm,
                    &si,
                    &mut dx,
                    &mut dg,
                    &mut db,
                );
            }
            [y, sm, si, rm, rv, dx, dg, db].concat()
        };
        let want = run(false);
        let got = pool(2).install(|| run(true));
        rep64.compare(&case, &got, &want);
        // f32 fast path against the f64 reference.
        let f = |v: &[f64]| v.iter().map(|&a| a as f32).collect::<Vec<f32>>();
        let (x32, dy32, g32, b32) = (f(&x), f(&dy), f(&g), f(&b));
        let (mut y, mut sm, mut si) = (vec![0.0f32; sh.len()], vec![0.0; sh.c], vec![0.0; sh.c]);
        let (mut rm, mut rv) = (vec![0.5f32; sh.c], vec![2.0; sh.c]);
        let (mut dx, mut dg, mut db) = (vec![0.0f32; sh.len()], vec![0.0; sh.c], vec![0.0; sh.c]);
        batch_norm_forward_train(
            &sh,
            &x32,
            Some(&g32),
            Some(&b32),
            1e-5,
            0.1,
            Some((&mut rm, &mut rv)),
            &mut y,
            &mut sm,
            &mut si,
        );
        batch_norm_backward(
            &sh,
            &x32,
            &dy32,
            Some(&g32),
            &sm,
            &si,
            &mut dx,
            &mut dg,
            &mut db,
        );
        let got32: Vec<f64> = [y, sm, si, rm, rv, dx, dg, db]
            .concat()
            .iter()
            .map(|&v| v as f64)
            .collect();
        rep.compare(&case, &got32, &want);
    }
    rep.finish();
    rep64.finish();
}

#[test]
fn running_stats_follow_pytorch() {
    // x = [1, 2, 3, 4] in one channel: mean 2.5, biased var 1.25, unbiased 5/3.
    let sh = BatchNormShape { n: 4, c: 1, s: 1 };
    let (mut y, mut sm, mut si) = ([0.0f64; 4], [0.0], [0.0]);
    let (mut rm, mut rv) = ([0.0f64], [1.0f64]);
    batch_norm_forward_train(
        &sh,
        &[1.0, 2.0, 3.0, 4.0],
        None,
        None,
        0.0,
        0.1,
        Some((&mut rm, &mut rv)),
        &mut y,
        &mut sm,
        &mut si,
    );
    assert!((rm[0] - 0.25).abs() < 1e-15);
    assert!((rv[0] - (0.9 + 0.1 * 5.0 / 3.0)).abs() < 1e-15);
    assert!((si[0] - 1.0 / 1.25f64.sqrt()).abs() < 1e-15);
    // Eval mode with those running stats, and its backward.
    let mut ye = [0.0f64; 4];
    batch_norm_forward_eval(
        &sh,
        &[1.0, 2.0, 3.0, 4.0],
        None,
        None,
        &rm,
        &rv,
        0.0,
        &mut ye,
    );
    assert!((ye[0] - (1.0 - 0.25) / rv[0].sqrt()).abs() < 1e-15);
    let (mut dx, mut dg, mut db) = ([0.0f64; 4], [0.0], [0.0]);
    batch_norm_backward_eval(
        &sh,
        &[1.0, 2.0, 3.0, 4.0],
        &[1.0; 4],
        None,
        &rm,
        &rv,
        0.0,
        &mut dx,
        &mut dg,
        &mut db,
    );
    assert!((dx[0] - 1.0 / rv[0].sqrt()).abs() < 1e-15 && db[0] == 4.0);
}
