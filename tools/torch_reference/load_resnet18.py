#!/usr/bin/env python3
"""Load an anglegrad ResNet-18 checkpoint into PyTorch's resnet18 and compare the outputs.

    /work/venv-torch/bin/python tools/torch_reference/load_resnet18.py CHECKPOINT IO_FILE \
        [--atol 1e-4] [--rtol 1e-4]
    /work/venv-torch/bin/python tools/torch_reference/load_resnet18.py --self-test

CHECKPOINT  a safetensors checkpoint written by anglegrad (`train::checkpoint::Checkpoint::save`)
            for a ResNet-18 with torchvision's parameter names: conv1.weight, bn1.{weight, bias,
            running_mean, running_var}, layer{1..4}.{0,1}.{conv1,bn1,conv2,bn2}.*,
            layer{2..4}.0.downsample.{0,1}.*, fc.weight, fc.bias. The number of classes is read
            from fc.weight. Entries named optim.* (optimiser state) are skipped.
IO_FILE     a safetensors file with `input` [N, 3, H, W] and `expected` [N, classes]: an input
            and anglegrad's output for it in evaluation mode (running BN statistics).

The script builds torchvision.models.resnet18 (or, if torchvision is not installed, the same
module written out below: same structure, same names, same defaults), loads the weights and
buffers with load_state_dict (PyTorch's num_batches_tracked counters, which anglegrad does not
keep, may be missing; anything else missing or unexpected is an error), runs the input in
eval() mode in the checkpoint's dtype, prints the largest absolute and relative differences,
and exits 1 when torch.allclose(out, expected, rtol, atol) fails.

--self-test checks this script: it writes a checkpoint in anglegrad's layout (metadata, CRC-32s,
optim.* entries) from a torch-initialised model and the matching IO file, then expects the
comparison to pass, and to fail once one weight is perturbed.
"""

import argparse
import json
import os
import sys
import tempfile
import zlib

import torch
from torch import nn
from safetensors import safe_open
from safetensors.torch import load_file, save_file


# ----- ResNet-18 as torchvision defines it (used when torchvision is absent) ------------------

class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet18(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        inplanes = 64
        for i, planes in enumerate([64, 128, 256, 512]):
            stride = 1 if i == 0 else 2
            down = None
            if stride != 1 or inplanes != planes:
                down = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
            setattr(self, f"layer{i + 1}", nn.Sequential(BasicBlock(inplanes, planes, stride, down),
                                                         BasicBlock(planes, planes)))
            inplanes = planes
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet18(num_classes):
    try:
        import torchvision
        return torchvision.models.resnet18(num_classes=num_classes), "torchvision.models.resnet18"
    except ImportError:
        return ResNet18(num_classes), "ResNet18 written out in load_resnet18.py (torchvision not installed)"


# ----- loading and comparing ------------------------------------------------------------------

def load_checkpoint(path):
    tensors = load_file(path)
    with safe_open(path, "pt") as f:
        meta = f.metadata() or {}
    model = {k: v for k, v in tensors.items() if not k.startswith("optim.")}
    return model, meta, len(tensors) - len(model)


def compare(checkpoint, io_file, atol, rtol):
    tensors, meta, n_optim = load_checkpoint(checkpoint)
    if meta.get("format") == "anglegrad-checkpoint":
        print(f"{checkpoint}: anglegrad checkpoint v{meta.get('format_version')}, step {meta.get('step')}, "
              f"optimizer {meta.get('optimizer', '-')} ({n_optim} optim.* entries skipped)")
    else:
        print(f"{checkpoint}: plain safetensors state_dict (no anglegrad metadata)")
    if "fc.weight" not in tensors:
        sys.exit(f"{checkpoint}: no tensor 'fc.weight': not a ResNet-18 with torchvision names")
    num_classes = tensors["fc.weight"].shape[0]
    dtype = tensors["fc.weight"].dtype
    model, which = resnet18(num_classes)
    model = model.to(dtype)
    result = model.load_state_dict(tensors, strict=False)
    missing = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
    if missing or result.unexpected_keys:
        sys.exit(f"{checkpoint}: names do not match {which}:\n  missing: {missing}\n"
                 f"  unexpected: {result.unexpected_keys}")
    print(f"loaded {len(tensors)} tensors into {which} ({num_classes} classes, {dtype})")

    io = load_file(io_file)
    for key in ("input", "expected"):
        if key not in io:
            sys.exit(f"{io_file}: no tensor '{key}' (expected 'input' [N,3,H,W] and 'expected' [N,classes])")
    x, expected = io["input"].to(dtype), io["expected"].to(dtype)
    model.eval()
    with torch.no_grad():
        out = model(x)
    if out.shape != expected.shape:
        sys.exit(f"{io_file}: output shape {tuple(out.shape)} vs expected {tuple(expected.shape)}")
    diff = (out - expected).abs()
    scale = expected.abs().max().item()
    print(f"input {tuple(x.shape)} -> output {tuple(out.shape)}: max |torch - anglegrad| = {diff.max().item():.3e}, "
          f"relative to max |expected| = {diff.max().item() / max(scale, 1e-30):.3e}")
    ok = torch.allclose(out, expected, rtol=rtol, atol=atol)
    print("PASS" if ok else f"FAIL: outside rtol={rtol}, atol={atol}")
    return ok


def write_anglegrad_checkpoint(model, path, step=0):
    """A checkpoint in anglegrad's layout (train/src/checkpoint/snapshot.rs): state_dict names
    (no num_batches_tracked), optim.<p>.momentum_buffer / optim.<p>.step, the metadata keys and
    a CRC-32 per tensor."""
    tensors = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()
               if not k.endswith("num_batches_tracked")}
    for name, p in model.named_parameters():
        tensors[f"optim.{name}.momentum_buffer"] = torch.zeros_like(p).contiguous()
        tensors[f"optim.{name}.step"] = torch.tensor(step, dtype=torch.int64)
    crcs = {k: zlib.crc32(v.numpy().tobytes()) for k, v in tensors.items()}
    meta = {"format": "anglegrad-checkpoint", "format_version": "1", "step": str(step),
            "optimizer": "sgd", "rng": json.dumps({"data": "1"}), "config": json.dumps({"self_test": True}),
            "crc32": json.dumps(crcs)}
    save_file(tensors, path, metadata=meta)


def self_test():
    torch.manual_seed(0)
    model, which = resnet18(10)
    model.train()
    with torch.no_grad():
        for _ in range(2):  # move the BN running statistics away from (0, 1)
            model(torch.randn(4, 3, 64, 64))
    model.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = model(x)
    with tempfile.TemporaryDirectory() as d:
        ck, io = os.path.join(d, "r18.safetensors"), os.path.join(d, "io.safetensors")
        write_anglegrad_checkpoint(model, ck, step=7)
        save_file({"input": x, "expected": expected}, io)
        good = compare(ck, io, atol=1e-5, rtol=1e-5)
        with torch.no_grad():
            model.layer3[1].conv2.weight[0, 0, 0, 0] += 0.5
        write_anglegrad_checkpoint(model, ck, step=7)
        bad = compare(ck, io, atol=1e-5, rtol=1e-5)
    if good and not bad:
        print(f"self-test passed ({which})")
        return True
    print("self-test FAILED: the unmodified checkpoint must pass and the perturbed one fail")
    return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("checkpoint", nargs="?")
    ap.add_argument("io_file", nargs="?")
    ap.add_argument("--atol", type=float, default=1e-4)
    ap.add_argument("--rtol", type=float, default=1e-4)
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    if args.self_test:
        sys.exit(0 if self_test() else 1)
    if not (args.checkpoint and args.io_file):
        ap.error("CHECKPOINT and IO_FILE are required (or --self-test)")
    sys.exit(0 if compare(args.checkpoint, args.io_file, args.atol, args.rtol) else 1)


if __name__ == "__main__":
    main()
