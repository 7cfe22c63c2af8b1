#!/usr/bin/env python3
"""PyTorch oracle for the backbones of anglegrad-models.

The networks below are written in torch with the layouts and parameter names of their
reference implementations (torchvision ResNet, insightface arcface_torch IResNet and
MobileFaceNet, pytorch-center-loss LeNet++), with a width knob so that tiny versions fit in a
test fixture. `layouts` proves that at full width they have exactly the reference's
state_dict (names and shapes), so the tiny versions are the same architectures, scaled.

    models_ref.py make_fixtures [--out models/tests/fixtures]
        Builds each tiny case with seeded random weights (f32), random BN statistics and
        PReLU slopes, and in float64 runs one training-mode forward and the backward of
        L = sum(output * cotangent), then (after that step's running-statistics update) one
        evaluation-mode forward and backward. Writes <case>.safetensors:
          param.<name>, buffer.<name>          the initial state (F32; num_batches_tracked I64)
          input, cotangent[, cotangent_logits] F32
          train.output, train.grad.input, train.grad.<param>, train.buffer.<name>
          eval.output, eval.grad.<param>                 (+ train/eval.logits for LeNet++)
        Expected values are the float64 results (stored as F32); a parameter with no
        gradient in torch (insightface's frozen features.weight) has no grad entry.
        The metadata records the torch version and torch's own float32 error on the case.

    models_ref.py layouts --insightface DIR --center-loss FILE
        Needs torchvision, a checkout of insightface's recognition/arcface_torch/backbones
        (DIR holds iresnet.py and mobilefacenet.py) and pytorch-center-loss's models.py.
        Compares state_dict names and shapes at full width with the references and prints the
        reference parameter counts quoted in models/tests/param_counts.rs. torchvision is not
        in the venv; beside it, without touching torch:
            pip install --no-deps --target /tmp/tv torchvision pillow
            PYTHONPATH=/tmp/tv $PY tools/torch_reference/models_ref.py layouts ...
        (the counts were taken with torchvision 0.29.2 and insightface at commit 7fadd420).

Regeneration gives the same tensors bit for bit (the safetensors metadata may list its keys
in another order).

See README.md beside this file for the environment.
"""

import argparse
import copy
import importlib.util
import json
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

# ------------------------------------------------------------------------------------------
# torchvision ResNet (He et al. 2016), with a base width knob (torchvision: 64) and the
# CIFAR stem (3x3 stride 1, no max-pool) as an option.
# ------------------------------------------------------------------------------------------


def conv3x3(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)


def conv1x1(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, 1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv1x1(inplanes, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * 4)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU()
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class ResNet(nn.Module):
    def __init__(self, block, layers, width=64, num_classes=1000, stem="imagenet"):
        super().__init__()
        self.inplanes = width
        if stem == "imagenet":
            self.conv1 = nn.Conv2d(3, width, 7, stride=2, padding=3, bias=False)
            self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        else:
            self.conv1 = nn.Conv2d(3, width, 3, stride=1, padding=1, bias=False)
            self.maxpool = nn.Identity()
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU()
        self.layer1 = self._make_layer(block, width, layers[0])
        self.layer2 = self._make_layer(block, width * 2, layers[1], 2)
        self.layer3 = self._make_layer(block, width * 4, layers[2], 2)
        self.layer4 = self._make_layer(block, width * 8, layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(width * 8 * block.expansion, num_classes)

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                conv1x1(self.inplanes, planes * block.expansion, stride),
                nn.BatchNorm2d(planes * block.expansion),
            )
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


# ------------------------------------------------------------------------------------------
# insightface arcface_torch IResNet (Deng et al. 2019), with stem_width / widths /
# input_size knobs (insightface: 64, [64, 128, 256, 512], 112x112 -> fc_scale 7*7).
# ------------------------------------------------------------------------------------------


class IBasicBlock(nn.Module):
    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes, eps=1e-05)
        self.conv1 = conv3x3(inplanes, planes)
        self.bn2 = nn.BatchNorm2d(planes, eps=1e-05)
        self.prelu = nn.PReLU(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn3 = nn.BatchNorm2d(planes, eps=1e-05)
        self.downsample = downsample

    def forward(self, x):
        out = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))
        identity = x if self.downsample is None else self.downsample(x)
        return out + identity


def quarter4(n):
    for _ in range(4):
        n = (n + 1) // 2
    return n


class IResNet(nn.Module):
    def __init__(self, layers, stem_width=64, widths=(64, 128, 256, 512), input_size=(112, 112),
                 num_features=512, dropout=0.0):
        super().__init__()
        self.inplanes = stem_width
        self.conv1 = nn.Conv2d(3, stem_width, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(stem_width, eps=1e-05)
        self.prelu = nn.PReLU(stem_width)
        self.layer1 = self._make_layer(widths[0], layers[0])
        self.layer2 = self._make_layer(widths[1], layers[1])
        self.layer3 = self._make_layer(widths[2], layers[2])
        self.layer4 = self._make_layer(widths[3], layers[3])
        self.bn2 = nn.BatchNorm2d(widths[3], eps=1e-05)
        self.dropout = nn.Dropout(p=dropout, inplace=True)
        fc_scale = quarter4(input_size[0]) * quarter4(input_size[1])
        self.fc = nn.Linear(widths[3] * fc_scale, num_features)
        self.features = nn.BatchNorm1d(num_features, eps=1e-05)
        nn.init.constant_(self.features.weight, 1.0)
        self.features.weight.requires_grad = False

    def _make_layer(self, planes, blocks, stride=2):
        downsample = None
        if stride != 1 or self.inplanes != planes:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes, stride),
                                       nn.BatchNorm2d(planes, eps=1e-05))
        layers = [IBasicBlock(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes
        layers += [IBasicBlock(planes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.prelu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.dropout(torch.flatten(self.bn2(x), 1))
        return self.features(self.fc(x))


# ------------------------------------------------------------------------------------------
# insightface arcface_torch MobileFaceNet (Chen et al. 2018), with a width divisor (1 =
# insightface) applied to every channel and group count, and an input-size knob for the GDC.
# ------------------------------------------------------------------------------------------


class ConvBlock(nn.Module):
    def __init__(self, cin, cout, kernel=(1, 1), stride=(1, 1), padding=(0, 0), groups=1):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(cin, cout, kernel, groups=groups, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(num_features=cout),
            nn.PReLU(num_parameters=cout))

    def forward(self, x):
        return self.layers(x)


class LinearBlock(nn.Module):
    def __init__(self, cin, cout, kernel=(1, 1), stride=(1, 1), padding=(0, 0), groups=1):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(cin, cout, kernel, stride, padding, groups=groups, bias=False),
            nn.BatchNorm2d(num_features=cout))

    def forward(self, x):
        return self.layers(x)


class DepthWise(nn.Module):
    def __init__(self, cin, cout, residual=False, kernel=(3, 3), stride=(2, 2), padding=(1, 1),
                 groups=1):
        super().__init__()
        self.residual = residual
        self.layers = nn.Sequential(
            ConvBlock(cin, groups, kernel=(1, 1), padding=(0, 0), stride=(1, 1)),
            ConvBlock(groups, groups, groups=groups, kernel=kernel, padding=padding, stride=stride),
            LinearBlock(groups, cout, kernel=(1, 1), padding=(0, 0), stride=(1, 1)))

    def forward(self, x):
        return x + self.layers(x) if self.residual else self.layers(x)


class Residual(nn.Module):
    def __init__(self, c, num_block, groups, kernel=(3, 3), stride=(1, 1), padding=(1, 1)):
        super().__init__()
        self.layers = nn.Sequential(*[DepthWise(c, c, True, kernel, stride, padding, groups)
                                      for _ in range(num_block)])

    def forward(self, x):
        return self.layers(x)


class Flatten(nn.Module):
    def forward(self, x):
        return x.view(x.size(0), -1)


class GDC(nn.Module):
    def __init__(self, c, kernel, embedding_size):
        super().__init__()
        self.layers = nn.Sequential(
            LinearBlock(c, c, groups=c, kernel=kernel, stride=(1, 1), padding=(0, 0)),
            Flatten(),
            nn.Linear(c, embedding_size, bias=False),
            nn.BatchNorm1d(embedding_size))

    def forward(self, x):
        return self.layers(x)


class MobileFaceNet(nn.Module):
    def __init__(self, num_features=512, blocks=(1, 4, 6, 2), scale=2, input_size=(112, 112),
                 divisor=1):
        super().__init__()
        d = divisor
        c1, c2 = 64 * scale // d, 128 * scale // d
        g64, g128, g256, g512 = 64 // d, 128 // d, 256 // d, 512 // d
        self.layers = nn.ModuleList()
        self.layers.append(ConvBlock(3, c1, kernel=(3, 3), stride=(2, 2), padding=(1, 1)))
        if blocks[0] == 1:
            self.layers.append(ConvBlock(c1, c1, kernel=(3, 3), stride=(1, 1), padding=(1, 1),
                                         groups=g64))
        else:
            self.layers.append(Residual(c1, num_block=blocks[0], groups=g128))
        self.layers.extend([
            DepthWise(c1, c1, kernel=(3, 3), stride=(2, 2), padding=(1, 1), groups=g128),
            Residual(c1, num_block=blocks[1], groups=g128),
            DepthWise(c1, c2, kernel=(3, 3), stride=(2, 2), padding=(1, 1), groups=g256),
            Residual(c2, num_block=blocks[2], groups=g256),
            DepthWise(c2, c2, kernel=(3, 3), stride=(2, 2), padding=(1, 1), groups=g512),
            Residual(c2, num_block=blocks[3], groups=g256),
        ])
        self.conv_sep = ConvBlock(c2, g512, kernel=(1, 1), stride=(1, 1), padding=(0, 0))
        kernel = (quarter4(input_size[0]), quarter4(input_size[1]))
        self.features = GDC(g512, kernel, num_features)

    def forward(self, x):
        for f in self.layers:
            x = f(x)
        return self.features(self.conv_sep(x))


# ------------------------------------------------------------------------------------------
# LeNet++ (Wen et al. 2016), pytorch-center-loss's ConvNet with a widths knob.
# ------------------------------------------------------------------------------------------


class LeNetPP(nn.Module):
    def __init__(self, widths=(32, 64, 128), input_size=(28, 28), feature_dim=2, num_classes=10):
        super().__init__()
        a, b, c = widths
        self.conv1_1 = nn.Conv2d(1, a, 5, stride=1, padding=2)
        self.prelu1_1 = nn.PReLU()
        self.conv1_2 = nn.Conv2d(a, a, 5, stride=1, padding=2)
        self.prelu1_2 = nn.PReLU()
        self.conv2_1 = nn.Conv2d(a, b, 5, stride=1, padding=2)
        self.prelu2_1 = nn.PReLU()
        self.conv2_2 = nn.Conv2d(b, b, 5, stride=1, padding=2)
        self.prelu2_2 = nn.PReLU()
        self.conv3_1 = nn.Conv2d(b, c, 5, stride=1, padding=2)
        self.prelu3_1 = nn.PReLU()
        self.conv3_2 = nn.Conv2d(c, c, 5, stride=1, padding=2)
        self.prelu3_2 = nn.PReLU()
        self.flat = c * (input_size[0] // 8) * (input_size[1] // 8)
        self.fc1 = nn.Linear(self.flat, feature_dim)
        self.prelu_fc1 = nn.PReLU()
        self.fc2 = nn.Linear(feature_dim, num_classes)

    def forward(self, x):
        x = F.max_pool2d(self.prelu1_2(self.conv1_2(self.prelu1_1(self.conv1_1(x)))), 2)
        x = F.max_pool2d(self.prelu2_2(self.conv2_2(self.prelu2_1(self.conv2_1(x)))), 2)
        x = F.max_pool2d(self.prelu3_2(self.conv3_2(self.prelu3_1(self.conv3_1(x)))), 2)
        x = self.prelu_fc1(self.fc1(x.view(-1, self.flat)))
        return x, self.fc2(x)


# ------------------------------------------------------------------------------------------
# Fixture cases: tiny versions (the Rust test builds the same configs).
# ------------------------------------------------------------------------------------------

CASES = {
    # ResNet-18 layout (BasicBlock, [2, 2, 2, 2]), width 2, ImageNet stem, 10 outputs.
    "resnet18_w2": dict(
        build=lambda: ResNet(BasicBlock, [2, 2, 2, 2], width=2, num_classes=10),
        input=(2, 3, 48, 48), seed=1),
    # ResNet-50 layout (Bottleneck) with one block per stage, width 2.
    "resnet50_b1_w2": dict(
        build=lambda: ResNet(Bottleneck, [1, 1, 1, 1], width=2, num_classes=6),
        input=(2, 3, 48, 48), seed=2),
    # CIFAR stem (3x3/1, no max-pool), BasicBlock [1, 1, 1, 1], width 2.
    "cifar_resnet_b1_w2": dict(
        build=lambda: ResNet(BasicBlock, [1, 1, 1, 1], width=2, num_classes=10, stem="cifar"),
        input=(2, 3, 32, 32), seed=3),
    # IResNet-18 layout, widths 2/4/8/16 (stem 2), 32x32 input (fc_scale 2*2), 8-d.
    "iresnet18_w2": dict(
        build=lambda: IResNet([2, 2, 2, 2], stem_width=2, widths=(2, 4, 8, 16),
                              input_size=(32, 32), num_features=8),
        input=(3, 3, 32, 32), seed=4),
    # MobileFaceNet (insightface mbf, blocks (1, 2, 2, 1)), every width / 16, 32x32, 16-d.
    "mobilefacenet_d16": dict(
        build=lambda: MobileFaceNet(num_features=16, blocks=(1, 2, 2, 1), scale=2,
                                    input_size=(32, 32), divisor=16),
        input=(3, 3, 32, 32), seed=5),
    # LeNet++ with widths 2/4/8 on 28x28 (2-D features, 10 classes).
    "lenetpp_w2": dict(
        build=lambda: LeNetPP(widths=(2, 4, 8)),
        input=(4, 1, 28, 28), seed=6),
}


def randomize_state(model, gen):
    """Non-trivial BN affine parameters, running statistics and PReLU slopes (so every term of
    the forward matters), and num_batches_tracked = 5."""
    with torch.no_grad():
        for name, m in model.named_modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                c = m.num_features
                if m.weight.requires_grad:  # insightface's frozen features.weight stays 1
                    m.weight.copy_(0.5 + torch.rand(c, generator=gen))
                m.bias.copy_(0.2 * torch.randn(c, generator=gen))
                m.running_mean.copy_(0.2 * torch.randn(c, generator=gen))
                m.running_var.copy_(0.5 + 1.5 * torch.rand(c, generator=gen))
                m.num_batches_tracked.fill_(5)
            elif isinstance(m, nn.PReLU):
                m.weight.copy_(0.1 + 0.3 * torch.rand(m.weight.shape, generator=gen))


def run(model, x, cots, grads_of):
    """One forward and the backward of sum(output_i * cot_i); returns outputs and gradients."""
    x = x.clone().requires_grad_(True)
    out = model(x)
    outs = out if isinstance(out, tuple) else (out,)
    loss = sum((o * c).sum() for o, c in zip(outs, cots))
    loss.backward()
    grads = {"input": x.grad.detach().clone()}
    for name, p in grads_of.named_parameters():
        if p.grad is not None:
            grads[name] = p.grad.detach().clone()
    return [o.detach().clone() for o in outs], grads


def rel_err(a, e, grad_scale=None):
    """max|a - e| / max|e|, the metric of the Rust test. A gradient that is zero by symmetry
    (max|e| < 1e-9 of the largest gradient `grad_scale`: e.g. a BN bias whose shift a later
    training-mode BN removes) is measured against `grad_scale` instead."""
    scale = e.abs().max().item()
    err = (a.double() - e.double()).abs().max().item()
    if grad_scale is not None and scale < 1e-9 * grad_scale:
        return err / grad_scale
    return err / scale if scale > 0 else err


def make_case(name, spec):
    torch.manual_seed(spec["seed"])
    gen = torch.Generator().manual_seed(1000 + spec["seed"])
    model = spec["build"]().float()
    randomize_state(model, gen)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    x = torch.randn(spec["input"], generator=gen, dtype=torch.float32)
    with torch.no_grad():
        probe = model.train()(x)  # shapes of the outputs (the BN update is discarded below)
    model.load_state_dict(state)
    probe = probe if isinstance(probe, tuple) else (probe,)
    cots = [torch.randn(o.shape, generator=gen, dtype=torch.float32) for o in probe]

    tensors = {}
    for k, v in state.items():
        kind = "buffer" if k in dict(model.named_buffers()) else "param"
        tensors[f"{kind}.{k}"] = v.contiguous()
    tensors["input"] = x.contiguous()
    tensors["cotangent"] = cots[0].contiguous()
    if len(cots) > 1:
        tensors["cotangent_logits"] = cots[1].contiguous()

    # float64 reference: the f32 weights and input, computed in f64.
    m64 = copy.deepcopy(model).double().train()
    cots64 = [c.double() for c in cots]
    outs, grads = run(m64, x.double(), cots64, m64)
    tensors["train.output"] = outs[0]
    if len(outs) > 1:
        tensors["train.logits"] = outs[1]
    for k, g in grads.items():
        tensors[f"train.grad.{k}"] = g
    for k, v in m64.named_buffers():
        tensors[f"train.buffer.{k}"] = v.detach().clone()
    m64.zero_grad(set_to_none=True)
    m64.eval()
    outs_e, grads_e = run(m64, x.double(), cots64, m64)
    tensors["eval.output"] = outs_e[0]
    if len(outs_e) > 1:
        tensors["eval.logits"] = outs_e[1]
    for k, g in grads_e.items():
        if k != "input":  # the input's gradient is checked in training mode only (size)
            tensors[f"eval.grad.{k}"] = g

    # torch's own float32 error on the same case (a baseline for our f32 tolerance).
    m32 = copy.deepcopy(model).train()
    outs32, grads32 = run(m32, x, cots, m32)
    g_max = max(g.abs().max().item() for g in grads.values())
    worst = max([rel_err(outs32[0], outs[0])] +
                [rel_err(grads32[k], grads[k], g_max) for k in grads])
    meta = {
        "case": name,
        "torch": torch.__version__,
        "params": str(sum(p.numel() for p in model.parameters())),
        "torch_f32_train_max_rel_err": f"{worst:.3e}",
    }
    # Expected values are computed in float64 and stored as float32 (halves the fixture; the
    # rounding, 6e-8 relative, is far below the f32 tolerance 1e-4).
    stored = {}
    for k, v in tensors.items():
        stored[k] = (v.float() if v.dtype == torch.float64 else v).contiguous()
    return stored, meta


def make_fixtures(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    total = 0
    for name, spec in CASES.items():
        tensors, meta = make_case(name, spec)
        path = os.path.join(out_dir, f"{name}.safetensors")
        save_file(tensors, path, metadata=meta)
        size = os.path.getsize(path)
        total += size
        print(f"{name:22s} {meta['params']:>7s} params  {size / 1024:7.1f} KiB  "
              f"torch f32 vs f64 max rel err {meta['torch_f32_train_max_rel_err']}")
    print(f"total {total / 1024:.1f} KiB")


# ------------------------------------------------------------------------------------------
# Layouts and reference counts
# ------------------------------------------------------------------------------------------


def load_module(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def same_layout(label, ours, ref):
    a = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
    b = {k: tuple(v.shape) for k, v in ref.state_dict().items()}
    if a != b:
        diff = sorted(set(a.items()) ^ set(b.items()))[:10]
        raise SystemExit(f"{label}: state_dict differs from the reference: {diff}")
    n = sum(p.numel() for p in ref.parameters())
    print(f"{label:40s} same state_dict ({len(b)} entries), {n:,} parameters")


def layouts(insightface_dir, center_loss_file):
    import torchvision.models as tvm

    same_layout("torchvision resnet18", ResNet(BasicBlock, [2, 2, 2, 2]), tvm.resnet18())
    same_layout("torchvision resnet34", ResNet(BasicBlock, [3, 4, 6, 3]), tvm.resnet34())
    same_layout("torchvision resnet50", ResNet(Bottleneck, [3, 4, 6, 3]), tvm.resnet50())
    cifar = tvm.resnet18(num_classes=10)
    cifar.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    cifar.maxpool = nn.Identity()
    same_layout("CIFAR resnet18 (torchvision, 3x3 stem)",
                ResNet(BasicBlock, [2, 2, 2, 2], num_classes=10, stem="cifar"), cifar)
    sys.path.insert(0, insightface_dir)
    ir = load_module(os.path.join(insightface_dir, "iresnet.py"), "iresnet")
    for n, layers in [(18, [2, 2, 2, 2]), (34, [3, 4, 6, 3]), (50, [3, 4, 14, 3]),
                      (100, [3, 13, 30, 3])]:
        same_layout(f"insightface iresnet{n}", IResNet(layers), getattr(ir, f"iresnet{n}")())
    mbf = load_module(os.path.join(insightface_dir, "mobilefacenet.py"), "mobilefacenet")
    same_layout("insightface get_mbf(512)", MobileFaceNet(), mbf.get_mbf(False, 512))
    same_layout("insightface get_mbf_large(512)", MobileFaceNet(blocks=(2, 8, 12, 4), scale=4),
                mbf.get_mbf_large(False, 512))
    cl = load_module(center_loss_file, "center_loss_models")
    same_layout("pytorch-center-loss ConvNet(10)", LeNetPP(), cl.ConvNet(10))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    mk = sub.add_parser("make_fixtures")
    mk.add_argument("--out", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "models", "tests", "fixtures"))
    lay = sub.add_parser("layouts")
    lay.add_argument("--insightface", required=True)
    lay.add_argument("--center-loss", required=True)
    args = ap.parse_args(argv)
    torch.use_deterministic_algorithms(True)
    if args.cmd == "make_fixtures":
        make_fixtures(os.path.normpath(args.out))
    else:
        layouts(args.insightface, args.center_loss)


if __name__ == "__main__":
    main()
