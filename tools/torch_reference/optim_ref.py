#!/usr/bin/env python3
"""PyTorch oracle for anglegrad's optimisers, LR schedules and gradient clipping.

Writes the fixtures that `train/tests/optim_torch.rs` replays (no Python needed there):

    train/tests/fixtures/optim/<case>.<f64|f32>.safetensors   optimiser trajectories
    train/tests/fixtures/optim/clip.<f64|f32>.safetensors     clip_grad_norm_ cases
    train/tests/fixtures/optim/schedules.safetensors          learning rates per step
    train/tests/fixtures/optim/torch_state_dict.safetensors   a PyTorch state_dict (checkpoint interop)

Usage:
    /work/venv-torch/bin/python tools/torch_reference/optim_ref.py [--out DIR]

Optimiser files hold, for K steps and parameters P = {w [4,3], b [3], head.weight [5,3]}:
    init.<p>            the parameters before step 0
    grad.<k>.<p>        the gradient given at step k
    lr                  [K] f64, the learning rate given at step k (before group multipliers)
    after.<k>.<p>       the parameters after step k
    state.<p>.<slot>    the optimiser state after the last step (momentum_buffer, exp_avg,
                        exp_avg_sq, max_exp_avg_sq; `step` as a 0-d f64 for Adam)
and in the safetensors metadata `case`: a JSON object with the optimiser's settings and the
parameter groups (first match wins, as in anglegrad; `select` is "no_decay" or "prefix:<p>").

Everything runs on the CPU with `foreach=False` (torch's single-tensor loops, the reference
implementations). f32 files start from the f64 values rounded to f32.
"""

import argparse
import json
import os
import sys

import torch
from safetensors.torch import save_file

STEPS = 6
GRAD_SCALES = [1.0, 3.0, 0.5, 0.1, 2.0, 0.05]  # varying magnitudes: amsgrad's max matters
SGD_LRS = [0.1, 0.05, 0.2, 0.1, 0.02, 0.1]
ADAM_LRS = [1e-2, 2e-2, 5e-3, 1e-2, 1e-2, 3e-3]
SHAPES = {"w": (4, 3), "b": (3,), "head.weight": (5, 3)}

NO_DECAY = {"label": "no_decay", "select": "no_decay", "lr_mult": 1.0, "weight_decay": 0.0}
HEAD = {"label": "head", "select": "prefix:head.", "lr_mult": 10.0, "weight_decay": None}

CASES = [
    # name, optimizer, settings, groups
    ("sgd_plain", "sgd", dict(momentum=0.0), []),
    ("sgd_l2", "sgd", dict(momentum=0.0, weight_decay=1e-2), []),
    ("sgd_momentum", "sgd", dict(momentum=0.9, weight_decay=5e-4), []),
    ("sgd_dampening", "sgd", dict(momentum=0.9, dampening=0.3, weight_decay=1e-2), []),
    ("sgd_nesterov", "sgd", dict(momentum=0.9, nesterov=True, weight_decay=1e-2), []),
    ("sgd_groups", "sgd", dict(momentum=0.9, weight_decay=1e-2), [HEAD, NO_DECAY]),
    ("sgdw_decoupled", "sgd", dict(momentum=0.9, weight_decay=1e-2, decoupled_weight_decay=True), [HEAD, NO_DECAY]),
    ("adamw", "adamw", dict(weight_decay=1e-2), []),
    ("adamw_amsgrad", "adamw", dict(weight_decay=1e-2, amsgrad=True), []),
    ("adamw_groups", "adamw", dict(weight_decay=5e-2, beta1=0.8, beta2=0.99, eps=1e-6), [HEAD, NO_DECAY]),
    ("adam_l2", "adamw", dict(weight_decay=1e-2, decoupled_weight_decay=False), []),
]


def selects(group, name, tensor):
    """The same predicates as anglegrad's `select::bias_or_norm` and `select::prefix`."""
    sel = group["select"]
    if sel == "no_decay":
        parts = name.split(".")
        return parts[-1] == "bias" or (len(parts) > 1 and parts[-2].startswith("bn")) or tensor.dim() <= 1
    if sel.startswith("prefix:"):
        return name.startswith(sel[len("prefix:"):])
    raise ValueError(sel)


def group_of(groups, name, tensor):
    for g in groups:
        if selects(g, name, tensor):
            return g
    return None


def inputs(dtype):
    gen = torch.Generator().manual_seed(20240607)
    init = {n: torch.randn(s, generator=gen, dtype=torch.float64) for n, s in SHAPES.items()}
    grads = [
        {n: torch.randn(s, generator=gen, dtype=torch.float64) * GRAD_SCALES[k] for n, s in SHAPES.items()}
        for k in range(STEPS)
    ]
    cast = lambda d: {n: t.to(dtype) for n, t in d.items()}
    return cast(init), [cast(g) for g in grads]


def run_case(name, kind, settings, groups, dtype):
    init, grads = inputs(dtype)
    params = {n: t.clone().requires_grad_(True) for n, t in init.items()}
    wd_default = settings.get("weight_decay", 0.0)
    decoupled = settings.get("decoupled_weight_decay", kind == "adamw")

    # One torch param group per (group, or default) — each parameter in exactly one.
    torch_groups = {}
    for n, p in params.items():
        g = group_of(groups, n, p)
        label = g["label"] if g else "__default__"
        if label not in torch_groups:
            wd = wd_default if g is None or g["weight_decay"] is None else g["weight_decay"]
            mult = 1.0 if g is None else g["lr_mult"]
            torch_groups[label] = {"params": [], "lr_mult": mult, "wd": wd}
        torch_groups[label]["params"].append(p)

    lrs = SGD_LRS if kind == "sgd" else ADAM_LRS
    if kind == "sgd":
        sgdw = decoupled
        opt = torch.optim.SGD(
            [
                {"params": g["params"], "lr_mult": g["lr_mult"], "wd": g["wd"],
                 # SGDW: torch has no decoupled SGD; decay by hand before the step (below).
                 "weight_decay": 0.0 if sgdw else g["wd"]}
                for g in torch_groups.values()
            ],
            lr=lrs[0],
            momentum=settings.get("momentum", 0.0),
            dampening=settings.get("dampening", 0.0),
            nesterov=settings.get("nesterov", False),
            foreach=False,
        )
    else:
        sgdw = False
        cls = torch.optim.AdamW if decoupled else torch.optim.Adam
        opt = cls(
            [{"params": g["params"], "lr_mult": g["lr_mult"], "wd": g["wd"], "weight_decay": g["wd"]}
             for g in torch_groups.values()],
            lr=lrs[0],
            betas=(settings.get("beta1", 0.9), settings.get("beta2", 0.999)),
            eps=settings.get("eps", 1e-8),
            amsgrad=settings.get("amsgrad", False),
            foreach=False,
        )

    out = {n: t.clone() for n, t in (("init." + n, t) for n, t in init.items())}
    for k in range(STEPS):
        for g in opt.param_groups:
            g["lr"] = lrs[k] * g["lr_mult"]
        for n, p in params.items():
            p.grad = grads[k][n].clone()
            out[f"grad.{k}.{n}"] = grads[k][n].clone()
        if sgdw:
            with torch.no_grad():
                for g in opt.param_groups:
                    if g["wd"] != 0.0:
                        for p in g["params"]:
                            p.mul_(1 - g["lr"] * g["wd"])
        opt.step()
        for n, p in params.items():
            out[f"after.{k}.{n}"] = p.detach().clone()
    for n, p in params.items():
        for slot, v in opt.state[p].items():
            out[f"state.{n}.{slot}"] = v.detach().to(torch.float64 if slot == "step" else dtype).clone()
    out["lr"] = torch.tensor(lrs, dtype=torch.float64)

    meta = {"optimizer": kind, "steps": STEPS, "groups": groups}
    meta.update({k: v for k, v in settings.items()})
    return {k: v.contiguous() for k, v in out.items()}, {"case": json.dumps(meta, sort_keys=True)}


def clip_cases(dtype):
    gen = torch.Generator().manual_seed(7)
    shapes = {"conv.weight": (3, 2, 2), "conv.bias": (3,), "fc.weight": (4, 3)}
    grads = {n: torch.randn(s, generator=gen, dtype=torch.float64).to(dtype) for n, s in shapes.items()}
    total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g.double(), 2) for g in grads.values()]), 2).item()
    cases = {"clips": 0.5 * total, "no_clip": 2.0 * total, "zero": 0.0}
    out = {f"grad.{n}": g.clone() for n, g in grads.items()}
    meta = {}
    for case, max_norm in cases.items():
        params = [torch.zeros_like(g, requires_grad=True) for g in grads.values()]
        for p, g in zip(params, grads.values()):
            p.grad = g.clone()
        norm = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type=2.0, foreach=False)
        out[f"norm.{case}"] = torch.tensor(norm.item(), dtype=torch.float64)
        for n, p in zip(grads, params):
            out[f"clipped.{case}.{n}"] = p.grad.clone()
        meta[case] = max_norm
    return out, {"max_norm": json.dumps(meta, sort_keys=True)}


def lrs_of(make_scheduler, base_lr, steps):
    """The lr each optimiser step t = 0..steps-1 uses: read before `opt.step()`, then
    `scheduler.step()` — the usual loop."""
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=base_lr)
    sched = make_scheduler(opt)
    lrs = []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs


def schedules():
    S = torch.optim.lr_scheduler
    cases = {
        "step": ({"kind": "step", "base_lr": 0.1, "step_size": 7, "gamma": 0.3},
                 lambda o: S.StepLR(o, step_size=7, gamma=0.3), 40),
        "multistep": ({"kind": "multistep", "base_lr": 0.1, "milestones": [5, 12, 12, 30], "gamma": 0.1},
                      lambda o: S.MultiStepLR(o, milestones=[5, 12, 12, 30], gamma=0.1), 40),
        "cosine": ({"kind": "cosine", "base_lr": 0.1, "warmup_steps": 0, "warmup_start_factor": 1.0,
                    "total_steps": 50, "final_lr": 1e-4},
                   lambda o: S.CosineAnnealingLR(o, T_max=50, eta_min=1e-4), 51),
        "warmup_cosine": ({"kind": "cosine", "base_lr": 0.1, "warmup_steps": 10, "warmup_start_factor": 0.01,
                           "total_steps": 100, "final_lr": 1e-5},
                          lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.01, end_factor=1.0, total_iters=10),
                                                       S.CosineAnnealingLR(o, T_max=90, eta_min=1e-5)], milestones=[10]),
                          101),
        # arcface_torch's PolyScheduler.get_lr() formula at last_epoch = t (power 2), as a LambdaLR.
        "poly_arcface": ({"kind": "poly", "base_lr": 0.1, "warmup_steps": 10, "total_steps": 100, "power": 2.0},
                         lambda o: S.LambdaLR(o, lambda t: t / 10 if t < 10 else (1 - (t - 10) / (100 - 10)) ** 2),
                         101),
        "poly_torch": ({"kind": "poly", "base_lr": 0.1, "warmup_steps": 0, "total_steps": 60, "power": 0.9},
                       lambda o: S.PolynomialLR(o, total_iters=60, power=0.9), 70),
    }
    out, meta = {}, {}
    for name, (params, make, steps) in cases.items():
        out[f"lr.{name}"] = torch.tensor(lrs_of(make, params["base_lr"], steps), dtype=torch.float64)
        meta[name] = params
    # One metadata key: safetensors writes the metadata map in no fixed order.
    return out, {"schedules": json.dumps(meta, sort_keys=True)}


def torch_state_dict():
    """`Linear(3, 4) -> BatchNorm1d(4)` after one training forward, saved by
    `safetensors.torch.save_file` exactly as a PyTorch user would: float tensors plus the I64
    `num_batches_tracked` anglegrad does not keep; no anglegrad metadata."""
    torch.manual_seed(3)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    model.train()
    model(torch.randn(8, 3))
    return {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "..", "train", "tests", "fixtures", "optim"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.use_deterministic_algorithms(True)
    for dtype, tag in [(torch.float64, "f64"), (torch.float32, "f32")]:
        for name, kind, settings, groups in CASES:
            tensors, meta = run_case(name, kind, settings, groups, dtype)
            save_file(tensors, os.path.join(args.out, f"{name}.{tag}.safetensors"), metadata=meta)
        tensors, meta = clip_cases(dtype)
        save_file(tensors, os.path.join(args.out, f"clip.{tag}.safetensors"), metadata=meta)
    tensors, meta = schedules()
    save_file(tensors, os.path.join(args.out, "schedules.safetensors"), metadata=meta)
    save_file(torch_state_dict(), os.path.join(args.out, "torch_state_dict.safetensors"))
    print(f"torch {torch.__version__}: {2 * len(CASES)} optimiser files, 2 clip files, "
          f"{len(json.loads(meta['schedules']))} schedules -> {os.path.normpath(args.out)}", file=sys.stderr)


if __name__ == "__main__":
    main()
