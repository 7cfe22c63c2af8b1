//! Damaged, truncated, mismatched and half-written checkpoints: every failure is an error that
//! names the file (and the tensor or metadata key at fault), never a panic, and a crash while
//! saving leaves the previous checkpoint loadable.

use std::path::{Path, PathBuf};
use std::process::Command;

use anglegrad_engine::{DType, Grads, Tensor};
use anglegrad_train::checkpoint::atomic::{temp_path, Stage};
use anglegrad_train::checkpoint::codec;
use anglegrad_train::checkpoint::{Checkpoint, CheckpointError};
use anglegrad_train::optim::{
    AdamW, AdamWConfig, NamedTensors, OptimState, Optimizer, ParamState, Sgd, SgdConfig,
};
use safetensors::SafeTensors;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("anglegrad-ckerr-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn params(scale: f32) -> NamedTensors {
    [
        (
            "w",
            Tensor::from_vec(vec![1.0f32 * scale, 2.0, 3.0, 4.0, 5.0, 6.0], [2, 3]).unwrap(),
        ),
        (
            "b",
            Tensor::from_vec(vec![0.5f32 * scale, -0.5], [2]).unwrap(),
        ),
    ]
    .into_iter()
    .collect()
}

/// A checkpoint of `params(scale)` after one SGD momentum step, at `step`.
fn checkpoint(scale: f32, step: u64) -> Checkpoint {
    let mut p = params(scale);
    let mut opt = Sgd::new(SgdConfig::momentum(0.9, 0.0), vec![]).unwrap();
    let mut grads = Grads::default();
    for (_, t) in p.iter() {
        grads.insert(t.id(), Tensor::full(t.dims(), 0.25, DType::F32).unwrap());
    }
    opt.step(&mut p, &grads, 0.1).unwrap();
    let mut ck = Checkpoint::new(step);
    ck.add_params(&mut p).unwrap();
    ck.set_optimizer(&opt);
    ck.rng.insert("data".into(), 0xFEED_F00D_DEAD_BEEF);
    ck.config = serde_json::json!({ "scale": scale });
    ck
}

fn message(e: &CheckpointError) -> String {
    e.to_string()
}

#[test]
fn round_trip_keeps_everything() {
    let dir = scratch("roundtrip");
    let path = dir.join("ck.safetensors");
    let ck = checkpoint(1.0, 42);
    ck.save(&path).unwrap();
    let back = Checkpoint::load(&path).unwrap();
    assert_eq!(back.step, 42);
    assert_eq!(back.rng("data").unwrap(), 0xFEED_F00D_DEAD_BEEF);
    assert_eq!(back.config, ck.config);
    for (name, t) in &ck.tensors {
        assert_eq!(
            t.to_vec::<f32>().unwrap(),
            back.tensors[name].to_vec::<f32>().unwrap()
        );
    }
    let (kind, state) = back.optimizer.as_ref().unwrap();
    assert_eq!(kind, "sgd");
    assert_eq!(state.get("w").unwrap().step, 1);
    assert!(state.get("w").unwrap().buffer("momentum_buffer").is_some());
    assert!(back.ignored.is_empty());
    let e = back.rng("sampler").unwrap_err();
    assert!(message(&e).contains("sampler"), "{e}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn every_truncation_is_an_error_not_a_panic() {
    let bytes = {
        let dir = scratch("trunc");
        let path = dir.join("ck.safetensors");
        checkpoint(1.0, 3).save(&path).unwrap();
        let b = std::fs::read(&path).unwrap();
        std::fs::remove_dir_all(dir).unwrap();
        b
    };
    for len in 0..bytes.len() {
        let r = codec::decode("ck.safetensors", &bytes[..len]);
        let e = r
            .err()
            .unwrap_or_else(|| panic!("a file cut to {len} bytes was accepted"));
        assert!(message(&e).starts_with("ck.safetensors: "), "{e}");
    }
    // And through the file system, with the path in the message.
    let dir = scratch("trunc-file");
    let path = dir.join("cut.safetensors");
    std::fs::write(&path, &bytes[..bytes.len() - 7]).unwrap();
    let e = Checkpoint::load(&path).unwrap_err();
    assert!(matches!(e, CheckpointError::Corrupt { .. }), "{e}");
    assert!(message(&e).contains("cut.safetensors"), "{e}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_flipped_data_byte_names_the_damaged_tensor() {
    let dir = scratch("flip");
    let path = dir.join("ck.safetensors");
    checkpoint(1.0, 3).save(&path).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    let (header_len, meta) = SafeTensors::read_metadata(&bytes).unwrap();
    let data_start = 8 + header_len;
    for name in ["w", "b", "optim.w.momentum_buffer", "optim.b.step"] {
        let (start, _) = meta.info(name).unwrap().data_offsets;
        let at = data_start + start + 1;
        bytes[at] ^= 0x10;
        std::fs::write(&path, &bytes).unwrap();
        let e = Checkpoint::load(&path).unwrap_err();
        assert_eq!(e.tensor_name(), Some(name), "{e}");
        assert!(message(&e).contains("checksum mismatch"), "{e}");
        assert!(message(&e).contains("ck.safetensors"), "{e}");
        bytes[at] ^= 0x10;
    }
    std::fs::write(&path, &bytes).unwrap();
    assert!(Checkpoint::load(&path).is_ok());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn header_damage_never_panics() {
    let dir = scratch("header");
    let path = dir.join("ck.safetensors");
    checkpoint(1.0, 3).save(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let header_end = 8 + SafeTensors::read_metadata(&bytes).unwrap().0;
    let mut rejected = 0;
    for at in 0..header_end {
        for flip in [0x01u8, 0x20, 0x80] {
            let mut damaged = bytes.clone();
            damaged[at] ^= flip;
            // Some flips leave a valid file (a digit of the config); none may panic.
            if let Err(e) = codec::decode("ck.safetensors", &damaged) {
                assert!(message(&e).starts_with("ck.safetensors: "), "{e}");
                rejected += 1;
            }
        }
    }
    assert!(
        rejected > header_end,
        "only {rejected} of {} damaged headers rejected",
        3 * header_end
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn not_a_checkpoint_and_no_file() {
    let dir = scratch("garbage");
    let missing = dir.join("nothing-here.safetensors");
    let e = Checkpoint::load(&missing).unwrap_err();
    assert!(
        matches!(e, CheckpointError::Io { .. }) && message(&e).contains("nothing-here"),
        "{e}"
    );
    for (name, bytes) in [
        ("empty", &b""[..]),
        ("text", &b"hello, this is not safetensors"[..]),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let e = Checkpoint::load(&path).unwrap_err();
        assert!(
            matches!(e, CheckpointError::Corrupt { .. }) && message(&e).contains(name),
            "{e}"
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn missing_or_ill_shaped_tensors_name_the_tensor_and_change_nothing() {
    let dir = scratch("mismatch");
    let path = dir.join("ck.safetensors");
    checkpoint(1.0, 3).save(&path).unwrap();
    let ck = Checkpoint::load(&path).unwrap();

    // The model has a tensor the file lacks.
    let mut more = params(9.0);
    more.push("extra.weight", Tensor::zeros([4], DType::F32).unwrap());
    let e = ck.restore_params(&mut more).unwrap_err();
    assert_eq!(e.tensor_name(), Some("extra.weight"), "{e}");
    assert!(
        message(&e).contains("ck.safetensors") && message(&e).contains("missing"),
        "{e}"
    );
    assert_eq!(
        more.get("w").unwrap().to_vec::<f32>().unwrap()[0],
        9.0,
        "w was replaced"
    );

    // Another shape.
    let mut reshaped = params(1.0);
    reshaped.push("w", Tensor::zeros([3, 2], DType::F32).unwrap());
    let e = ck.restore_params(&mut reshaped).unwrap_err();
    assert_eq!(e.tensor_name(), Some("w"), "{e}");
    assert!(
        message(&e).contains("[2, 3]") && message(&e).contains("[3, 2]"),
        "{e}"
    );

    // Another dtype.
    let mut f64s = params(1.0);
    f64s.push("b", Tensor::zeros([2], DType::F64).unwrap());
    let e = ck.restore_params(&mut f64s).unwrap_err();
    assert_eq!(e.tensor_name(), Some("b"), "{e}");

    // SGD state does not go into AdamW.
    let mut adam = AdamW::new(AdamWConfig::default(), vec![]).unwrap();
    let e = ck.restore_optimizer(&mut adam).unwrap_err();
    assert!(
        matches!(e, CheckpointError::Metadata { ref key, .. } if key == "optimizer"),
        "{e}"
    );

    // The same kind restores, step counts included.
    let mut sgd = Sgd::new(SgdConfig::momentum(0.9, 0.0), vec![]).unwrap();
    ck.restore_optimizer(&mut sgd).unwrap();
    assert_eq!(sgd.state().get("w").unwrap().step, 1);
    std::fs::remove_dir_all(dir).unwrap();
}

/// Writes a checkpoint whose optimiser buffer for `w` has another shape, or belongs to a
/// parameter the file does not hold: loading names the optimiser entry.
#[test]
fn ill_shaped_or_orphan_optimizer_state_is_rejected_at_load() {
    let dir = scratch("optim-shape");
    for (param, dims, expect) in [
        ("w", vec![6], "optim.w.momentum_buffer"),
        ("ghost", vec![2, 3], "optim.ghost.momentum_buffer"),
    ] {
        let mut ck = checkpoint(1.0, 3);
        let mut state = OptimState::default();
        let mut st = ParamState {
            step: 1,
            ..ParamState::default()
        };
        st.buffers.insert(
            "momentum_buffer".into(),
            Tensor::zeros(dims, DType::F32).unwrap(),
        );
        state.params.insert(param.to_string(), st);
        ck.optimizer = Some(("sgd".into(), state));
        let path = dir.join(format!("{param}.safetensors"));
        ck.save(&path).unwrap();
        let e = Checkpoint::load(&path).unwrap_err();
        assert_eq!(e.tensor_name(), Some(expect), "{e}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn unknown_optimizer_buffers_are_rejected_by_the_optimizer() {
    let mut ck = checkpoint(1.0, 3);
    let (_, state) = ck.optimizer.as_mut().unwrap();
    let w = state.params.get_mut("w").unwrap();
    let buf = w.buffers.remove("momentum_buffer").unwrap();
    w.buffers.insert("velocity".into(), buf);
    let mut sgd = Sgd::new(SgdConfig::momentum(0.9, 0.0), vec![]).unwrap();
    let e = ck.restore_optimizer(&mut sgd).unwrap_err();
    assert!(message(&e).contains("velocity"), "{e}");
}

fn simulated_crash(at: Stage) -> impl FnMut(Stage) -> std::io::Result<()> {
    move |stage| {
        if stage == at {
            Err(std::io::Error::other("simulated crash"))
        } else {
            Ok(())
        }
    }
}

#[test]
fn a_crash_while_saving_keeps_the_previous_checkpoint() {
    let dir = scratch("crash");
    let path = dir.join("last.safetensors");
    checkpoint(1.0, 100).save(&path).unwrap();
    for stage in [Stage::TempCreated, Stage::HalfWritten, Stage::TempSynced] {
        let e = checkpoint(2.0, 200).save_with_hook(&path, &mut simulated_crash(stage));
        assert!(e.is_err());
        let ck = Checkpoint::load(&path).unwrap();
        assert_eq!(ck.step, 100, "crash at {stage:?}");
        assert_eq!(
            ck.tensors["w"].to_vec::<f32>().unwrap()[0],
            1.0 - 0.1 * 0.25
        );
    }
    // The half-written temp of a crash is itself an unreadable checkpoint, and says so.
    checkpoint(2.0, 200)
        .save_with_hook(&path, &mut simulated_crash(Stage::HalfWritten))
        .unwrap_err();
    let e = Checkpoint::load(&temp_path(&path)).unwrap_err();
    assert!(
        matches!(e, CheckpointError::Corrupt { .. }) && message(&e).contains(".partial"),
        "{e}"
    );
    // The next save goes through.
    checkpoint(2.0, 300).save(&path).unwrap();
    assert_eq!(Checkpoint::load(&path).unwrap().step, 300);
    assert!(!temp_path(&path).exists());
    std::fs::remove_dir_all(dir).unwrap();
}

const CHILD_ENV: &str = "ANGLEGRAD_CRASH_CHILD";

/// The process really dies (abort) in the middle of a save; the previous file survives.
#[test]
fn a_killed_process_leaves_the_previous_checkpoint() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        let (path, stage) = spec.split_once('|').unwrap();
        let stage = match stage {
            "half" => Stage::HalfWritten,
            _ => Stage::TempSynced,
        };
        let _ = checkpoint(2.0, 200).save_with_hook(Path::new(path), &mut |s| {
            if s == stage {
                std::process::abort();
            }
            Ok(())
        });
        unreachable!("the save should have aborted the process");
    }
    let dir = scratch("kill");
    let path = dir.join("last.safetensors");
    checkpoint(1.0, 100).save(&path).unwrap();
    let before = std::fs::read(&path).unwrap();
    for stage in ["half", "synced"] {
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "a_killed_process_leaves_the_previous_checkpoint",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, format!("{}|{stage}", path.display()))
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "the child should have died ({stage})"
        );
        assert_eq!(
            std::fs::read(&path).unwrap(),
            before,
            "target changed ({stage})"
        );
        assert_eq!(Checkpoint::load(&path).unwrap().step, 100);
        assert!(
            temp_path(&path).exists(),
            "the dead process's temp stays ({stage})"
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_pytorch_state_dict_loads_as_a_checkpoint() {
    // Written by safetensors.torch.save_file (tools/torch_reference/optim_ref.py):
    // Linear(3, 4) -> BatchNorm1d(4), with the I64 `1.num_batches_tracked`.
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/optim/torch_state_dict.safetensors");
    let ck = Checkpoint::load(&path).unwrap();
    assert_eq!(ck.step, 0);
    assert!(ck.optimizer.is_none());
    assert_eq!(ck.ignored, ["1.num_batches_tracked"]);
    let names: Vec<_> = ck.tensors.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "0.bias",
            "0.weight",
            "1.bias",
            "1.running_mean",
            "1.running_var",
            "1.weight"
        ]
    );
    assert_eq!(ck.tensors["0.weight"].dims(), [4, 3]);
    assert_eq!(ck.tensors["1.running_var"].dtype(), DType::F32);
    // One training forward moved the running mean away from PyTorch's initial 0.
    assert!(ck.tensors["1.running_mean"]
        .to_vec::<f32>()
        .unwrap()
        .iter()
        .any(|&m| m != 0.0));
    let mut model: NamedTensors = ck
        .tensors
        .iter()
        .map(|(n, t)| (n.as_str(), t.zeros_like()))
        .collect();
    assert_eq!(ck.restore_params(&mut model).unwrap(), 6);
}

#[test]
fn names_that_collide_with_optimizer_entries_are_refused() {
    let mut p: NamedTensors = [("optim.w", Tensor::scalar(1.0f32))].into_iter().collect();
    let mut ck = Checkpoint::new(0);
    let e = ck.add_params(&mut p).unwrap_err();
    assert_eq!(e.tensor_name(), Some("optim.w"));
    let mut twice = params(1.0);
    ck.add_params(&mut twice).unwrap();
    let e = ck.add_params(&mut twice).unwrap_err();
    assert_eq!(e.tensor_name(), Some("w"));
}
