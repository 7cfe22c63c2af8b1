//! Bad input gives an `Error` that names the op and the offending shapes or values — never a
//! panic, never silent garbage.

use anglegrad_engine::{DType, Error, Tensor};
use anglegrad_ops::{self as ops, TensorOps};

fn z(dims: &[usize]) -> Tensor {
    Tensor::zeros(dims, DType::F32).unwrap()
}

#[test]
fn wrong_shape_add_names_both_shapes() {
    let err = z(&[2, 3]).add(&z(&[4])).unwrap_err();
    assert_eq!(err.to_string(), "add: cannot broadcast [2, 3] with [4]");
}

#[test]
fn dtype_mismatch_names_both_dtypes() {
    let b = Tensor::zeros([2], DType::F64).unwrap();
    assert_eq!(
        z(&[2]).mul(&b).unwrap_err().to_string(),
        "mul: dtype mismatch: f32 vs f64"
    );
}

#[test]
fn matmul_inner_dims_must_agree() {
    let err = z(&[2, 3]).matmul(&z(&[4, 5])).unwrap_err();
    assert_eq!(err.to_string(), "matmul: shape mismatch: [2, 3] vs [4, 5]");
    let err = z(&[2, 2, 3]).matmul(&z(&[3, 3, 5])).unwrap_err();
    assert!(err.to_string().contains("[2, 2, 3] vs [3, 3, 5]"));
    assert!(z(&[3]).matmul(&z(&[3, 1])).is_err());
}

#[test]
fn shape_errors_of_movement_ops() {
    assert_eq!(
        z(&[2, 3]).reshape(&[4, 2]).unwrap_err().to_string(),
        "reshape: shape mismatch: [2, 3] vs [4, 2]"
    );
    assert!(z(&[2, 3]).permute(&[0, 0]).is_err());
    assert!(z(&[2, 3]).permute(&[1]).is_err());
    assert!(z(&[2, 3]).broadcast_to(&[3, 3]).is_err());
    assert!(z(&[2, 3])
        .narrow(1, 2, 2)
        .unwrap_err()
        .to_string()
        .contains("out of bounds"));
    assert!(ops::concat(&[&z(&[2, 3]), &z(&[3, 3])], 1).is_err());
    assert!(ops::concat(&[], 0).is_err());
    assert!(matches!(
        z(&[2, 3]).sum(&[2], false),
        Err(Error::AxisOutOfRange { axis: 2, .. })
    ));
    assert!(z(&[2, 3]).sum(&[1, 1], false).is_err());
    assert!(z(&[2, 0]).max(1, false).is_err());
}

#[test]
fn bad_indices_name_the_index_and_the_size() {
    let err = z(&[4, 3]).index_select(0, &[1, 4]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "index_select: index 4 out of range for size 4"
    );
    assert!(ops::gather(&z(&[2, 3]), 1, &[0, 3], &[2, 1]).is_err());
    assert!(ops::gather(&z(&[2, 3]), 1, &[0], &[2, 1]).is_err());
    assert!(ops::one_hot(&[0, 5], 5, DType::F32).is_err());
}

#[test]
fn cross_entropy_checks_labels() {
    let logits = z(&[2, 3]);
    let err = ops::cross_entropy(&logits, &[0, 3]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cross_entropy: index 3 out of range for size 3"
    );
    assert!(ops::cross_entropy(&logits, &[0]).is_err());
    assert!(ops::cross_entropy(&z(&[0, 3]), &[]).is_err());
    assert!(ops::cross_entropy(&z(&[6]), &[0]).is_err());
}

#[test]
fn construction_errors() {
    assert!(Tensor::from_vec(vec![1.0f32; 5], [2, 3]).is_err());
    assert!(Tensor::zeros([2], DType::BF16).is_err());
    assert!(Tensor::from_vec(vec![1.0f32], [1])
        .unwrap()
        .as_slice::<f64>()
        .is_err());
    assert!(z(&[2]).to_scalar_f64().is_err());
}

#[test]
fn convolution_pooling_and_norm_errors() {
    use anglegrad_ops::{BatchNormOptions, Conv2dOptions, Pool2dOptions};
    let x = z(&[1, 4, 5, 5]);
    let err = ops::conv2d(&x, &z(&[8, 3, 3, 3]), None, Conv2dOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "conv2d: shape mismatch: [1, 4, 5, 5] vs [8, 3, 3, 3]"
    );
    assert!(ops::conv2d(
        &x,
        &z(&[8, 2, 3, 3]),
        None,
        Conv2dOptions::default().groups(3)
    )
    .is_err());
    assert!(ops::conv2d(&x, &z(&[8, 4, 7, 7]), None, Conv2dOptions::default()).is_err());
    assert!(ops::conv2d(
        &x,
        &z(&[8, 4, 3, 3]),
        Some(&z(&[7])),
        Conv2dOptions::default()
    )
    .is_err());
    assert!(ops::conv2d(&x, &z(&[8, 4, 3, 3]), None, Conv2dOptions::new(0, 0)).is_err());
    assert!(ops::conv2d(
        &z(&[4, 5, 5]),
        &z(&[8, 4, 3, 3]),
        None,
        Conv2dOptions::default()
    )
    .is_err());
    assert!(ops::max_pool2d(&x, Pool2dOptions::new(3, 1, 2)).is_err()); // padding > half window
    assert!(ops::max_pool2d(&x, Pool2dOptions::new(7, 1, 0)).is_err());
    assert!(ops::avg_pool2d(&z(&[5, 5]), Pool2dOptions::new(2, 2, 0), true).is_err());
    assert!(ops::batch_norm(&x, Some(&z(&[3])), None, None, BatchNormOptions::default()).is_err());
    let eval = BatchNormOptions {
        training: false,
        ..BatchNormOptions::default()
    };
    assert!(ops::batch_norm(&x, None, None, None, eval)
        .unwrap_err()
        .to_string()
        .contains("running statistics"));
    assert!(ops::batch_norm(&z(&[1, 4]), None, None, None, BatchNormOptions::default()).is_err());
    assert!(ops::prelu(&x, &z(&[3])).is_err());
    assert!(ops::dropout(&x, 1.0, 0).is_err());
}

#[test]
fn batch_norm_updates_running_statistics_like_pytorch() {
    use anglegrad_ops::{BatchNormOptions, RunningStats};
    // One channel, values 1, 2, 3, 4: mean 2.5, biased var 1.25, unbiased 5/3.
    // running_mean = 0.9·0 + 0.1·2.5 = 0.25, running_var = 0.9·1 + 0.1·5/3 = 1.0666…
    let x = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0], [4, 1]).unwrap();
    let mut stats = RunningStats::new(1, DType::F64).unwrap();
    let y = ops::batch_norm(
        &x,
        None,
        None,
        Some(&mut stats),
        BatchNormOptions::default(),
    )
    .unwrap();
    assert!((stats.mean.to_vec_f64()[0] - 0.25).abs() < 1e-15);
    assert!((stats.var.to_vec_f64()[0] - (0.9 + 0.1 * 5.0 / 3.0)).abs() < 1e-15);
    let inv = 1.0 / (1.25f64 + 1e-5).sqrt();
    assert!((y.to_vec_f64()[0] - (1.0 - 2.5) * inv).abs() < 1e-12);
}
