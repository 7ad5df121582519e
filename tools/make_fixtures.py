#!/usr/bin/env python3
"""Build the small weight fixtures fracdet-model's import tests load.

Each fixture is a test-sized network with torchvision's exact module structure and
state_dict key names (reduced widths, same topology), random weights from a fixed seed,
random but realistic BatchNorm running statistics, a fixed input, and the outputs the
network gives in eval mode. Outputs land in crates/fracdet-model/tests/fixtures/:

  NAME.pth             torch.save zip format (PyTorch >= 1.6)
  NAME_legacy.pth      torch.save(..., _use_new_zipfile_serialization=False) format
  NAME.safetensors     safetensors
  NAME.json            config, input recipe and expected outputs

The ResNet/DenseNet fixtures need only numpy: the checkpoint containers are written here
byte for byte as torch.save writes them (pickle protocol 2, persistent storage ids, the zip
layout / legacy stream), and the reference forward passes are numpy re-implementations of
torchvision's modules in float64. (The MobileNetV2/EfficientNet fixtures further down use
torch itself and are skipped when it cannot be imported.) With a working torch,
`--verify-with-torch` reloads the ResNet/DenseNet .pth files with torch.load
(weights_only=True) and recomputes their outputs with torch.nn.functional; it fails above
1e-4 max abs difference from the numpy reference.

Adding an architecture: write a `build_*` function returning an ordered state dict (with
the torchvision key names) plus a `*_forward(params, x, bn)` numpy function, and a
`fixture_*` function calling `write_fixture`; list it in FIXTURES.

Usage: python3 tools/make_fixtures.py [--out DIR] [--only NAME ...] [--verify-with-torch]
"""

from __future__ import annotations

import argparse
import collections
import io
import json
import pickle
import struct
import sys
import types
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "crates" / "fracdet-model" / "tests" / "fixtures"
BN_EPS = 1e-5

# --------------------------------------------------------------------------------------
# Fixed input, reproduced bit for bit by the Rust tests (tests/common/mod.rs).
# --------------------------------------------------------------------------------------


def fixture_input(shape):
    """x.flat[i] = ((i * 7919) % 1000) / 500 - 1, computed in float32."""
    n = int(np.prod(shape))
    k = (np.arange(n, dtype=np.int64) * 7919) % 1000
    x = k.astype(np.float32) / np.float32(500.0) - np.float32(1.0)
    return x.reshape(shape)


# --------------------------------------------------------------------------------------
# Checkpoint writers: torch.save's containers without torch.
# --------------------------------------------------------------------------------------


def _fake_torch_modules():
    """Stand-ins for the two torch globals a state_dict pickle names.

    Pickle writes a class or function as GLOBAL 'module name' after checking that importing
    `module` gives back the same object, so the stand-ins are registered in sys.modules under
    torch's names for the duration of a dump. torch.load resolves them to the real
    torch.FloatStorage and torch._utils._rebuild_tensor_v2.
    """
    torch_mod = types.ModuleType("torch")
    utils_mod = types.ModuleType("torch._utils")

    def storage_class(name):
        cls = type(name, (), {})
        cls.__module__ = "torch"
        cls.__qualname__ = name
        return cls

    def _rebuild_tensor_v2(*args):  # pragma: no cover - never called here
        raise RuntimeError("stand-in")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    torch_mod.FloatStorage = storage_class("FloatStorage")
    torch_mod.LongStorage = storage_class("LongStorage")
    torch_mod._utils = utils_mod
    utils_mod._rebuild_tensor_v2 = _rebuild_tensor_v2
    return torch_mod, utils_mod


class _Storage:
    def __init__(self, key, array):
        self.key = key
        self.array = array


class _TensorRef:
    """Pickles as torch._utils._rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict())."""

    def __init__(self, storage, shape, rebuild):
        self.storage = storage
        self.shape = tuple(int(d) for d in shape)
        self.rebuild = rebuild

    def __reduce__(self):
        stride = []
        acc = 1
        for d in reversed(self.shape):
            stride.append(acc)
            acc *= d
        stride = tuple(reversed(stride))
        return (
            self.rebuild,
            (self.storage, 0, self.shape, stride, False, collections.OrderedDict()),
        )


def _dump_state_dict(state_dict, legacy):
    """Pickle `state_dict` as torch.save does; returns (pickle bytes, [(key, float32 array)])."""
    # Swapped in even when the real torch is loaded (another fixture may have imported it):
    # pickling calls nothing in torch, and the real modules are put back afterwards.
    saved = {k: sys.modules.get(k) for k in ("torch", "torch._utils")}
    torch_mod, utils_mod = _fake_torch_modules()
    sys.modules["torch"] = torch_mod
    sys.modules["torch._utils"] = utils_mod
    try:
        storages = []
        obj = collections.OrderedDict()
        for name, value in state_dict.items():
            arr = np.ascontiguousarray(value)
            if arr.dtype not in (np.float32, np.int64):
                raise TypeError(f"{name}: only float32 and int64 tensors are written")
            st = _Storage(str(len(storages)), arr)
            storages.append(st)
            obj[name] = _TensorRef(st, arr.shape, utils_mod._rebuild_tensor_v2)

        class P(pickle.Pickler):
            def persistent_id(self, o):
                if isinstance(o, _Storage):
                    numel = int(o.array.size)
                    kind = torch_mod.FloatStorage if o.array.dtype == np.float32 else torch_mod.LongStorage
                    if legacy:
                        return ("storage", kind, o.key, "cpu", numel, None)
                    return ("storage", kind, o.key, "cpu", numel)
                return None

        buf = io.BytesIO()
        P(buf, protocol=2).dump(obj)
        return buf.getvalue(), [(s.key, s.array) for s in storages]
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


def write_torch_zip(path, state_dict):
    """torch.save(state_dict, path) in the zip format (stored, uncompressed entries)."""
    data_pkl, storages = _dump_state_dict(state_dict, legacy=False)
    root = "archive"
    def entry(z, name, data):
        # A fixed timestamp keeps regenerated files byte-identical.
        z.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        entry(z, f"{root}/data.pkl", data_pkl)
        entry(z, f"{root}/byteorder", "little")
        for key, arr in storages:
            entry(z, f"{root}/data/{key}", arr.astype(arr.dtype.newbyteorder("<")).tobytes())
        entry(z, f"{root}/version", "3\n")
        entry(z, f"{root}/.data/serialization_id", "0" * 40)


def write_torch_legacy(path, state_dict):
    """torch.save(state_dict, path, _use_new_zipfile_serialization=False)."""
    data_pkl, storages = _dump_state_dict(state_dict, legacy=True)
    with open(path, "wb") as f:
        pickle.dump(0x1950A86A20F9469CFC6C, f, protocol=2)
        pickle.dump(1001, f, protocol=2)
        sys_info = {
            "protocol_version": 1001,
            "little_endian": True,
            "type_sizes": {"short": 2, "int": 4, "long": 4},
        }
        pickle.dump(sys_info, f, protocol=2)
        f.write(data_pkl)
        pickle.dump([key for key, _ in storages], f, protocol=2)
        for _, arr in storages:
            f.write(struct.pack("<q", arr.size))
            f.write(arr.astype(arr.dtype.newbyteorder("<")).tobytes())


def write_safetensors(path, state_dict):
    header = {"__metadata__": {"format": "pt"}}
    blobs = []
    offset = 0
    for name, value in state_dict.items():
        arr = np.ascontiguousarray(value)
        b = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
        header[name] = {
            "dtype": {np.dtype(np.float32): "F32", np.dtype(np.int64): "I64"}[arr.dtype],
            "shape": list(np.shape(value)),
            "data_offsets": [offset, offset + len(b)],
        }
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


# --------------------------------------------------------------------------------------
# numpy ops with torch semantics (NCHW, float64 arithmetic).
# --------------------------------------------------------------------------------------


def conv2d(x, w, stride=1, padding=0, bias=None, groups=1):
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    if padding:
        x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    ho = (x.shape[2] - kh) // stride + 1
    wo = (x.shape[3] - kw) // stride + 1
    out = np.zeros((n, o, ho, wo))
    og = o // groups
    for g in range(groups):
        xs = x[:, g * cg : (g + 1) * cg]
        # im2col: [n, cg, kh, kw, ho, wo]
        cols = np.empty((n, cg, kh, kw, ho, wo))
        for i in range(kh):
            for j in range(kw):
                cols[:, :, i, j] = xs[:, :, i : i + stride * ho : stride, j : j + stride * wo : stride]
        wg = w[g * og : (g + 1) * og].astype(np.float64)
        out[:, g * og : (g + 1) * og] = np.einsum("nckluv,ockl->nouv", cols, wg, optimize=True)
    if bias is not None:
        out += bias.reshape(1, -1, 1, 1)
    return out


def max_pool(x, k=3, stride=2, padding=1):
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)), constant_values=-np.inf)
    ho = (x.shape[2] - k) // stride + 1
    wo = (x.shape[3] - k) // stride + 1
    out = np.full(x.shape[:2] + (ho, wo), -np.inf)
    for i in range(k):
        for j in range(k):
            out = np.maximum(out, x[:, :, i : i + stride * ho : stride, j : j + stride * wo : stride])
    return out


def avg_pool2(x):
    """nn.AvgPool2d(kernel_size=2, stride=2): floor mode, odd edges dropped."""
    n, c, h, w = x.shape
    x = x[:, :, : h // 2 * 2, : w // 2 * 2]
    return x.reshape(n, c, h // 2, 2, w // 2, 2).mean(axis=(3, 5))


def relu(x):
    return np.maximum(x, 0.0)


def linear(x, w, b):
    return x @ w.astype(np.float64).T + b


class BatchNormEval:
    """Eval-mode BatchNorm. On the first (calibration) pass it fills in running statistics
    near the real batch statistics, perturbed per channel, so they are non-trivial yet keep
    activations O(1) through deep random networks."""

    def __init__(self, params, rng):
        self.p = params
        self.rng = rng

    def __call__(self, prefix, x):
        mean_key, var_key = f"{prefix}.running_mean", f"{prefix}.running_var"
        if self.p[mean_key] is None:
            m = x.mean(axis=(0, 2, 3))
            second = (x * x).mean(axis=(0, 2, 3))
            c = m.shape[0]
            # Statistics that keep activations O(1) without cancellation: a mean a fraction of
            # the real one, a variance near the real second moment. Centring on the exact batch
            # mean instead makes (x - mean) cancel, and a deep random network then amplifies
            # float32 rounding ~1.2x per layer (measured: 1e-3 after ResNet-50's 53 BNs).
            self.p[mean_key] = (m * self.rng.uniform(0.0, 0.5, c)).astype(np.float32)
            self.p[var_key] = (second * self.rng.uniform(0.7, 1.4, c) + 1e-2).astype(np.float32)
        mean = self.p[mean_key].astype(np.float64).reshape(1, -1, 1, 1)
        var = self.p[var_key].astype(np.float64).reshape(1, -1, 1, 1)
        w = self.p[f"{prefix}.weight"].astype(np.float64).reshape(1, -1, 1, 1)
        b = self.p[f"{prefix}.bias"].astype(np.float64).reshape(1, -1, 1, 1)
        return (x - mean) / np.sqrt(var + BN_EPS) * w + b


class StateDictBuilder:
    """Collects parameters in torchvision's registration order with fixed-seed random values."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.sd = collections.OrderedDict()
        self.gamma_range = (0.5, 1.5)

    def conv(self, name, c_out, c_in, k, bias=False):
        std = np.sqrt(2.0 / (c_in * k * k))
        self.sd[f"{name}.weight"] = (self.rng.standard_normal((c_out, c_in, k, k)) * std).astype(np.float32)
        if bias:
            self.sd[f"{name}.bias"] = (self.rng.standard_normal(c_out) * 0.1).astype(np.float32)

    def bn(self, name, c):
        self.sd[f"{name}.weight"] = self.rng.uniform(*self.gamma_range, c).astype(np.float32)
        self.sd[f"{name}.bias"] = (self.rng.standard_normal(c) * 0.2).astype(np.float32)
        self.sd[f"{name}.running_mean"] = None  # filled in by the calibration pass
        self.sd[f"{name}.running_var"] = None
        self.sd[f"{name}.num_batches_tracked"] = np.array(self.rng.integers(1, 1000), dtype=np.int64)

    def linear(self, name, c_out, c_in):
        bound = 1.0 / np.sqrt(c_in)
        self.sd[f"{name}.weight"] = self.rng.uniform(-bound, bound, (c_out, c_in)).astype(np.float32)
        self.sd[f"{name}.bias"] = self.rng.uniform(-bound, bound, c_out).astype(np.float32)


# --------------------------------------------------------------------------------------
# ResNet (torchvision.models.resnet).
# --------------------------------------------------------------------------------------


def build_resnet(layers, bottleneck, widths, stem, in_ch, num_classes, seed):
    b = StateDictBuilder(seed)
    exp = 4 if bottleneck else 1
    b.conv("conv1", stem, in_ch, 7)
    b.bn("bn1", stem)
    c_in = stem
    for s, (n, planes) in enumerate(zip(layers, widths)):
        for i in range(n):
            stride = 2 if (s > 0 and i == 0) else 1
            p = f"layer{s + 1}.{i}"
            c_out = planes * exp
            if bottleneck:
                b.conv(f"{p}.conv1", planes, c_in, 1)
                b.bn(f"{p}.bn1", planes)
                b.conv(f"{p}.conv2", planes, planes, 3)
                b.bn(f"{p}.bn2", planes)
                b.conv(f"{p}.conv3", c_out, planes, 1)
                b.bn(f"{p}.bn3", c_out)
            else:
                b.conv(f"{p}.conv1", planes, c_in, 3)
                b.bn(f"{p}.bn1", planes)
                b.conv(f"{p}.conv2", planes, planes, 3)
                b.bn(f"{p}.bn2", planes)
            if stride != 1 or c_in != c_out:
                b.conv(f"{p}.downsample.0", c_out, c_in, 1)
                b.bn(f"{p}.downsample.1", c_out)
            c_in = c_out
    b.linear("fc", num_classes, c_in)
    return b


def resnet_forward(p, x, bn):
    """Returns (features after layer4, logits)."""
    x = relu(bn("bn1", conv2d(x, p["conv1.weight"], 2, 3)))
    x = max_pool(x)
    s = 1
    while f"layer{s}.0.conv1.weight" in p:
        i = 0
        while f"layer{s}.{i}.conv1.weight" in p:
            q = f"layer{s}.{i}"
            stride = 2 if (s > 1 and i == 0) else 1
            bottleneck = f"{q}.conv3.weight" in p
            if f"{q}.downsample.0.weight" in p:
                idn = bn(f"{q}.downsample.1", conv2d(x, p[f"{q}.downsample.0.weight"], stride))
            else:
                idn = x
            if bottleneck:
                out = relu(bn(f"{q}.bn1", conv2d(x, p[f"{q}.conv1.weight"])))
                out = relu(bn(f"{q}.bn2", conv2d(out, p[f"{q}.conv2.weight"], stride, 1)))
                out = bn(f"{q}.bn3", conv2d(out, p[f"{q}.conv3.weight"]))
            else:
                out = relu(bn(f"{q}.bn1", conv2d(x, p[f"{q}.conv1.weight"], stride, 1)))
                out = bn(f"{q}.bn2", conv2d(out, p[f"{q}.conv2.weight"], 1, 1))
            x = relu(out + idn)
            i += 1
        s += 1
    feats = x
    logits = linear(x.mean(axis=(2, 3)), p["fc.weight"], p["fc.bias"])
    return feats, logits


# --------------------------------------------------------------------------------------
# DenseNet (torchvision.models.densenet).
# --------------------------------------------------------------------------------------


def build_densenet(block_config, growth, init_features, bn_size, in_ch, num_classes, seed):
    b = StateDictBuilder(seed)
    b.conv("features.conv0", init_features, in_ch, 7)
    b.bn("features.norm0", init_features)
    c = init_features
    for i, n in enumerate(block_config):
        for l in range(n):
            p = f"features.denseblock{i + 1}.denselayer{l + 1}"
            c_in = c + l * growth
            b.bn(f"{p}.norm1", c_in)
            b.conv(f"{p}.conv1", bn_size * growth, c_in, 1)
            b.bn(f"{p}.norm2", bn_size * growth)
            b.conv(f"{p}.conv2", growth, bn_size * growth, 3)
        c += n * growth
        if i != len(block_config) - 1:
            b.bn(f"features.transition{i + 1}.norm", c)
            b.conv(f"features.transition{i + 1}.conv", c // 2, c, 1)
            c //= 2
    b.bn("features.norm5", c)
    b.linear("classifier", num_classes, c)
    return b


def densenet_forward(p, x, bn):
    """Returns (relu(norm5(features)), logits)."""
    x = relu(bn("features.norm0", conv2d(x, p["features.conv0.weight"], 2, 3)))
    x = max_pool(x)
    i = 1
    while f"features.denseblock{i}.denselayer1.conv1.weight" in p:
        l = 1
        while f"features.denseblock{i}.denselayer{l}.conv1.weight" in p:
            q = f"features.denseblock{i}.denselayer{l}"
            y = conv2d(relu(bn(f"{q}.norm1", x)), p[f"{q}.conv1.weight"])
            y = conv2d(relu(bn(f"{q}.norm2", y)), p[f"{q}.conv2.weight"], 1, 1)
            x = np.concatenate([x, y], axis=1)
            l += 1
        t = f"features.transition{i}"
        if f"{t}.conv.weight" in p:
            x = avg_pool2(conv2d(relu(bn(f"{t}.norm", x)), p[f"{t}.conv.weight"]))
        i += 1
    feats = relu(bn("features.norm5", x))
    logits = linear(feats.mean(axis=(2, 3)), p["classifier.weight"], p["classifier.bias"])
    return feats, logits


def densenet_old_keys(sd):
    """The key spelling of torchvision's own ImageNet DenseNet files (`norm.1` for `norm1`)."""
    out = collections.OrderedDict()
    for k, v in sd.items():
        for part in ("norm1", "relu1", "conv1", "norm2", "relu2", "conv2"):
            if ".denselayer" in k:
                k = k.replace(f".{part}.", f".{part[:-1]}.{part[-1]}.")
        out[k] = v
    return out


# --------------------------------------------------------------------------------------
# Fixture plumbing.
# --------------------------------------------------------------------------------------


def calibrate_and_run(builder, forward, x):
    """First pass fills BN running stats, second is the reference eval-mode forward."""
    p = builder.sd
    bn = BatchNormEval(p, builder.rng)
    forward(p, x.astype(np.float64), bn)
    return forward(p, x.astype(np.float64), bn)


def flat(a):
    return [float(v) for v in np.asarray(a, dtype=np.float64).ravel()]


def write_fixture(out, name, state_dict, meta, outputs, formats=("zip",), extra_files=None):
    """Write NAME.pth / NAME_legacy.pth / NAME.safetensors as asked, and NAME.json."""
    written = []
    if "zip" in formats:
        write_torch_zip(out / f"{name}.pth", state_dict)
        written.append(f"{name}.pth")
    if "legacy" in formats:
        write_torch_legacy(out / f"{name}_legacy.pth", state_dict)
        written.append(f"{name}_legacy.pth")
    if "safetensors" in formats:
        write_safetensors(out / f"{name}.safetensors", state_dict)
        written.append(f"{name}.safetensors")
    for fname, sd in (extra_files or {}).items():
        if fname.endswith("_legacy.pth"):
            write_torch_legacy(out / fname, sd)
        else:
            write_torch_zip(out / fname, sd)
        written.append(fname)
    doc = dict(meta)
    doc["files"] = written
    doc["outputs"] = outputs
    (out / f"{name}.json").write_text(json.dumps(doc, indent=1) + "\n")
    return written


def fixture_resnet18_small(out, verify):
    cfg = dict(layers=[2, 2, 2, 2], bottleneck=False, widths=[4, 8, 16, 32], stem=8)
    b = build_resnet(**cfg, in_ch=3, num_classes=1, seed=18)
    x = fixture_input((2, 3, 64, 64))
    feats, logits = calibrate_and_run(b, resnet_forward, x)
    # Grayscale: a 1-channel network given gray g must equal the RGB network on (g, g, g).
    g = fixture_input((2, 1, 64, 64))
    gfeats, glogits = resnet_forward(b.sd, np.repeat(g, 3, axis=1).astype(np.float64), BatchNormEval(b.sd, b.rng))
    sd = saved_state_dict(b.sd)
    meta = {"arch": "resnet", "config": cfg, "input_shape": [2, 3, 64, 64]}
    outputs = {
        "logits": flat(logits),
        "features_shape": list(feats.shape),
        "features": flat(feats),
        "gray_input_shape": [2, 1, 64, 64],
        "gray_logits": flat(glogits),
        "gray_features": flat(gfeats),
    }
    return write_fixture(out, "resnet18_small", sd, meta, outputs, formats=("zip", "legacy", "safetensors"))


def fixture_resnet50_small(out, verify):
    # One Bottleneck per stage rather than ResNet-50's [3, 4, 6, 3]: at full depth a random
    # narrow Bottleneck network amplifies float32 rounding past 1e-4 (measured: ~1e-3 max abs
    # change in the features from a 6e-8 relative nudge of every weight), so no 1e-4 check of
    # any float32 implementation could pass. The depth itself is covered by the key/shape
    # layout test (resnet50 in layouts.json).
    cfg = dict(layers=[1, 1, 1, 1], bottleneck=True, widths=[4, 8, 16, 32], stem=8)
    b = build_resnet(**cfg, in_ch=3, num_classes=1, seed=51)
    x = fixture_input((2, 3, 64, 64))
    feats, logits = calibrate_and_run(b, resnet_forward, x)
    meta = {"arch": "resnet", "config": cfg, "input_shape": [2, 3, 64, 64]}
    outputs = {"logits": flat(logits), "features_shape": list(feats.shape), "features": flat(feats)}
    return write_fixture(out, "resnet50_small", saved_state_dict(b.sd), meta, outputs, formats=("zip",))


def fixture_densenet121_small(out, verify):
    cfg = dict(block_config=[6, 12, 24, 16], growth_rate=4, init_features=8, bn_size=2)
    b = build_densenet(cfg["block_config"], cfg["growth_rate"], cfg["init_features"], cfg["bn_size"], 3, 1, seed=121)
    x = fixture_input((2, 3, 64, 64))
    feats, logits = calibrate_and_run(b, densenet_forward, x)
    sd = saved_state_dict(b.sd)
    meta = {"arch": "densenet", "config": cfg, "input_shape": [2, 3, 64, 64]}
    outputs = {"logits": flat(logits), "features_shape": list(feats.shape), "features": flat(feats)}
    # The legacy file uses the old `norm.1` key spelling of torchvision's ImageNet DenseNets.
    return write_fixture(
        out,
        "densenet121_small",
        sd,
        meta,
        outputs,
        formats=("zip",),
        extra_files={"densenet121_small_oldkeys_legacy.pth": densenet_old_keys(sd)},
    )


def saved_state_dict(sd):
    """State dict as torch saves it: float32 tensors and int64 0-d `num_batches_tracked`."""
    out = collections.OrderedDict()
    for k, v in sd.items():
        if v is None:
            raise ValueError(f"{k} was never filled in: forward pass did not reach it")
        v = np.asarray(v)
        out[k] = v if v.dtype == np.int64 else v.astype(np.float32)
    return out


# --------------------------------------------------------------------------------------
# MobileNetV2 and EfficientNet-Lite0 (issue #3). Unlike the numpy fixtures above, these
# are computed by PyTorch itself (torch.nn modules with the reference key layouts), so they
# need an importable torch; without one, or without weights/ for the ImageNet reference,
# they are skipped with a notice. torch is imported lazily so the rest runs on numpy alone.
# --------------------------------------------------------------------------------------

# `[t, c, n, s]` rows of torchvision's MobileNetV2.
MOBILE_MB_SETTINGS = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2],
                      [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]]
# `[repeats, kernel, stride, expand, out]` rows of EfficientNet-Lite0.
MOBILE_LITE0_STAGES = [[1, 3, 1, 1, 16], [2, 3, 2, 6, 24], [2, 5, 2, 6, 40], [3, 3, 2, 6, 80],
                       [3, 5, 1, 6, 112], [4, 5, 2, 6, 192], [1, 3, 1, 6, 320]]
# Tiny variants with the same code paths as the full networks (expansion-free first block,
# shortcuts, stride 2 on odd sizes, 5x5 kernels) and ~70k weights each. The Rust tests
# (tests/mobilenet_v2.rs, tests/efficientnet_lite.rs) build the same configs.
MOBILE_MB_TINY = dict(width_mult=0.25, round_nearest=4, last_channel=48, num_classes=5,
                      settings=[[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [4, 64, 2, 2],
                                [4, 96, 2, 1], [4, 160, 2, 2], [4, 320, 1, 1]])
MOBILE_EFF_TINY = dict(stem=8, head=48, num_classes=5, in_channels=1,
                       stages=[[1, 3, 1, 1, 8], [2, 3, 2, 4, 8], [2, 5, 2, 4, 16], [2, 3, 2, 4, 16],
                               [2, 5, 1, 4, 24], [2, 5, 2, 4, 32], [1, 3, 1, 4, 40]])
MOBILE_WEIGHTS = REPO / "weights"  # filled by tools/fetch-weights.sh


def _mobile_torch():
    """torch plus the two reference modules, or None when torch cannot be imported."""
    try:
        import torch
        import torch.nn.functional as F
        from torch import nn
    except Exception as e:  # the CUDA wheel without its libraries raises OSError/ValueError
        print(f"NOTICE: torch is not importable ({type(e).__name__}: {e}); skipping")
        return None

    def make_divisible(v, divisor):
        """torchvision's _make_divisible."""
        new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
        return new_v + divisor if new_v < 0.9 * v else new_v

    class ConvBNReLU(nn.Sequential):
        """torchvision's ConvBNReLU: keys `0` (conv), `1` (bn)."""

        def __init__(self, c_in, c_out, kernel=3, stride=1, groups=1):
            pad = (kernel - 1) // 2
            super().__init__(
                nn.Conv2d(c_in, c_out, kernel, stride, pad, groups=groups, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU6(inplace=True),
            )

    class InvertedResidual(nn.Module):
        """torchvision's InvertedResidual: keys `conv.N...`."""

        def __init__(self, c_in, c_out, stride, expand_ratio):
            super().__init__()
            hidden = int(round(c_in * expand_ratio))
            self.use_res_connect = stride == 1 and c_in == c_out
            layers = [ConvBNReLU(c_in, hidden, kernel=1)] if expand_ratio != 1 else []
            layers += [
                ConvBNReLU(hidden, hidden, stride=stride, groups=hidden),
                nn.Conv2d(hidden, c_out, 1, 1, 0, bias=False),
                nn.BatchNorm2d(c_out),
            ]
            self.conv = nn.Sequential(*layers)

        def forward(self, x):
            return x + self.conv(x) if self.use_res_connect else self.conv(x)

    class MobileNetV2(nn.Module):
        """torchvision.models.MobileNetV2's structure and keys (features.N, classifier.1)."""

        def __init__(self, num_classes=1000, width_mult=1.0, settings=None, round_nearest=8,
                     last_channel=1280, in_channels=3):
            super().__init__()
            c_in = make_divisible(32 * width_mult, round_nearest)
            last = make_divisible(last_channel * max(1.0, width_mult), round_nearest)
            features = [ConvBNReLU(in_channels, c_in, stride=2)]
            for t, c, n, s in settings or MOBILE_MB_SETTINGS:
                c_out = make_divisible(c * width_mult, round_nearest)
                for i in range(n):
                    features.append(InvertedResidual(c_in, c_out, s if i == 0 else 1, t))
                    c_in = c_out
            features.append(ConvBNReLU(c_in, last, kernel=1))
            self.features = nn.Sequential(*features)
            self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(last, num_classes))

        def forward_features(self, x):
            return self.features(x)

        def forward(self, x):
            return self.classifier(F.adaptive_avg_pool2d(self.features(x), 1).flatten(1))

    class SameConv2d(nn.Conv2d):
        """TensorFlow 'SAME' convolution, as efficientnet_lite_pytorch's
        Conv2dDynamicSamePadding: the odd extra pad pixel goes to the bottom/right."""

        def __init__(self, c_in, c_out, kernel, stride=1, groups=1):
            super().__init__(c_in, c_out, kernel, stride, 0, groups=groups, bias=False)

        def forward(self, x):
            ih, iw = x.shape[-2:]
            kh, kw = self.weight.shape[-2:]
            sh, sw = self.stride
            pad_h = max((-(-ih // sh) - 1) * sh + kh - ih, 0)
            pad_w = max((-(-iw // sw) - 1) * sw + kw - iw, 0)
            x = F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])
            return F.conv2d(x, self.weight, None, self.stride, 0, 1, self.groups)

    class MBConv(nn.Module):
        """efficientnet_lite_pytorch's MBConvBlock for Lite: ReLU6, no squeeze-excite."""

        def __init__(self, c_in, c_out, kernel, stride, expand, eps):
            super().__init__()
            hidden = c_in * expand
            self.has_expand = expand != 1
            if self.has_expand:
                self._expand_conv = SameConv2d(c_in, hidden, 1)
                self._bn0 = nn.BatchNorm2d(hidden, eps=eps)
            self._depthwise_conv = SameConv2d(hidden, hidden, kernel, stride, groups=hidden)
            self._bn1 = nn.BatchNorm2d(hidden, eps=eps)
            self._project_conv = SameConv2d(hidden, c_out, 1)
            self._bn2 = nn.BatchNorm2d(c_out, eps=eps)
            self.skip = stride == 1 and c_in == c_out

        def forward(self, inputs):
            x = inputs
            if self.has_expand:
                x = F.relu6(self._bn0(self._expand_conv(x)))
            x = F.relu6(self._bn1(self._depthwise_conv(x)))
            x = self._bn2(self._project_conv(x))
            return x + inputs if self.skip else x

    class EfficientNetLite(nn.Module):
        """EfficientNet-Lite in the keys of efficientnet-lite0-57934424.pth (_conv_stem,
        _bn0, _blocks.N, _conv_head, _bn1, _fc); BN eps 1e-3 as in TensorFlow."""

        def __init__(self, num_classes=1000, stages=None, stem=32, head=1280, in_channels=3,
                     eps=1e-3):
            super().__init__()
            self._conv_stem = SameConv2d(in_channels, stem, 3, 2)
            self._bn0 = nn.BatchNorm2d(stem, eps=eps)
            blocks, c_in = [], stem
            for repeats, kernel, stride, expand, c_out in stages or MOBILE_LITE0_STAGES:
                for i in range(repeats):
                    blocks.append(MBConv(c_in, c_out, kernel, stride if i == 0 else 1, expand, eps))
                    c_in = c_out
            self._blocks = nn.ModuleList(blocks)
            self._conv_head = SameConv2d(c_in, head, 1)
            self._bn1 = nn.BatchNorm2d(head, eps=eps)
            self._dropout = nn.Dropout(0.2)
            self._fc = nn.Linear(head, num_classes)

        def forward_features(self, x):
            x = F.relu6(self._bn0(self._conv_stem(x)))
            for block in self._blocks:
                x = block(x)
            return F.relu6(self._bn1(self._conv_head(x)))

        def forward(self, x):
            x = F.adaptive_avg_pool2d(self.forward_features(x), 1).flatten(1)
            return self._fc(self._dropout(x))

    return types.SimpleNamespace(torch=torch, MobileNetV2=MobileNetV2,
                                 EfficientNetLite=EfficientNetLite)


def mobile_formula_input(torch, shape):
    """Deterministic input computed in float64 then rounded to float32; the Rust tests
    (tests/mobilenet_support/mod.rs) evaluate the same formula in the same order."""
    grids = torch.meshgrid(*(torch.arange(s, dtype=torch.float64) for s in shape), indexing="ij")
    n, c, h, w = grids
    x = 1.5 * torch.sin(0.11 * h + 0.07 * w + 1.3 * c) * torch.cos(0.05 * (h - w) + 0.4 * n) \
        + 0.25 * c - 0.25
    return x.to(torch.float32)


def _mobile_randomize(torch, model, seed):
    """Random weights and BatchNorm statistics far from identity, so every tensor matters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            elif name.endswith("running_mean"):
                t.copy_(torch.randn(t.shape, generator=g) * 0.2)
            elif t.dim() == 1:  # BN gamma / beta, linear bias
                base = 1.0 if name.endswith("weight") else 0.0
                t.copy_(base + torch.randn(t.shape, generator=g) * 0.2)
            else:
                t.copy_(torch.randn(t.shape, generator=g) * (2.0 / t[0].numel()) ** 0.5)
    return model.eval()


def _mobile_input_doc(torch, x):
    return {"input_shape": list(x.shape), "input_sum": float(x.double().sum()),
            "input_abs_sum": float(x.double().abs().sum())}


def _mobile_tiny(out, name, model, input_shape, config, legacy):
    t = _mobile_torch()
    if t is None:
        return []
    torch = t.torch
    model = _mobile_randomize(torch, model(t), seed=len(name))
    kwargs = {"_use_new_zipfile_serialization": False} if legacy else {}
    torch.save(model.state_dict(), out / f"{name}.pth", **kwargs)
    x = mobile_formula_input(torch, input_shape)
    with torch.no_grad():
        feats = model.forward_features(x)
        logits = model(x)
    doc = {"config": config, "files": [f"{name}.pth"], **_mobile_input_doc(torch, x),
           "features_shape": list(feats.shape),
           "features": [round(v, 7) for v in feats.flatten().tolist()],
           "logits_shape": list(logits.shape), "logits": logits.flatten().tolist()}
    (out / f"{name}.json").write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    return [f"{name}.pth", f"{name}.json"]


def fixture_mobilenet_v2_tiny(out, verify):
    # Legacy (non-zip) container like the real torchvision checkpoint; 41x36 input so the
    # five stride-2 layers see odd and even sizes.
    return _mobile_tiny(out, "mobilenet_v2_tiny", lambda t: t.MobileNetV2(**MOBILE_MB_TINY),
                        (2, 3, 41, 36), MOBILE_MB_TINY, legacy=True)


def fixture_efficientnet_lite_tiny(out, verify):
    # 44x37: TF-SAME padding is asymmetric exactly for stride 2 on even sizes.
    return _mobile_tiny(out, "efficientnet_lite_tiny", lambda t: t.EfficientNetLite(**MOBILE_EFF_TINY),
                        (2, 1, 44, 37), MOBILE_EFF_TINY, legacy=False)


def fixture_imagenet_reference(out, verify):
    """1000-class logits of the real ImageNet weights on the formula input (1x3x224x224)."""
    files = {"mobilenet_v2": "mobilenet_v2-b0353104.pth",
             "efficientnet_lite0": "efficientnet-lite0-57934424.pth"}
    absent = [f for f in files.values() if not (MOBILE_WEIGHTS / f).is_file()]
    if absent:
        print(f"NOTICE: {', '.join(absent)} not in {MOBILE_WEIGHTS} (run tools/fetch-weights.sh); skipping")
        return []
    t = _mobile_torch()
    if t is None:
        return []
    torch = t.torch
    x = mobile_formula_input(torch, (1, 3, 224, 224))
    doc = {"files": [], **_mobile_input_doc(torch, x), "models": {}}
    for name, model in [("mobilenet_v2", t.MobileNetV2()), ("efficientnet_lite0", t.EfficientNetLite())]:
        state = torch.load(MOBILE_WEIGHTS / files[name], map_location="cpu", weights_only=True)
        model.load_state_dict(state, strict=True)  # proves the mirror has the file's exact layout
        with torch.no_grad():
            logits = model.eval()(x)[0]
        top5 = torch.topk(logits, 5).indices.tolist()
        doc["models"][name] = {"weights": files[name], "logits": logits.tolist(), "top5": top5}
        print(f"{name}: top-5 {top5}, logits {[round(float(logits[i]), 4) for i in top5]}")
    (out / "imagenet_reference.json").write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    return ["imagenet_reference.json"]


def fixture_layouts(out, verify):
    """Full-size torchvision state_dict key names and shapes (no weights), to check that every
    full-size network takes exactly torchvision's tensors after its import remapping."""
    nets = {
        "resnet18": build_resnet([2, 2, 2, 2], False, [64, 128, 256, 512], 64, 3, 1000, seed=0),
        "resnet34": build_resnet([3, 4, 6, 3], False, [64, 128, 256, 512], 64, 3, 1000, seed=0),
        "resnet50": build_resnet([3, 4, 6, 3], True, [64, 128, 256, 512], 64, 3, 1000, seed=0),
        "densenet121": build_densenet([6, 12, 24, 16], 32, 64, 4, 3, 1000, seed=0),
        "densenet169": build_densenet([6, 12, 32, 32], 32, 64, 4, 3, 1000, seed=0),
    }
    doc = {}
    for name, b in nets.items():
        keys = []
        for k, v in b.sd.items():
            shape = [] if v is None or np.ndim(v) == 0 else list(np.shape(v))
            if v is None:  # running stats: same shape as the BN weight
                shape = list(np.shape(b.sd[k.rsplit(".", 1)[0] + ".weight"]))
            keys.append([k, shape])
        doc[name] = keys
    (out / "layouts.json").write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    return ["layouts.json"]


FIXTURES = {
    "layouts": fixture_layouts,
    "resnet18_small": fixture_resnet18_small,
    "resnet50_small": fixture_resnet50_small,
    "densenet121_small": fixture_densenet121_small,
    "mobilenet_v2_tiny": fixture_mobilenet_v2_tiny,
    "efficientnet_lite_tiny": fixture_efficientnet_lite_tiny,
    "imagenet_reference": fixture_imagenet_reference,
}


TORCH_CHECK = r"""
import json, sys
from pathlib import Path
import numpy as np
import torch
import torch.nn.functional as F

out = Path(sys.argv[1])
torch.set_grad_enabled(False)


def bn(p, k, x):
    return F.batch_norm(x, p[k + ".running_mean"], p[k + ".running_var"], p[k + ".weight"],
                        p[k + ".bias"], training=False, eps=1e-5)


def resnet(p, x):
    x = F.max_pool2d(F.relu(bn(p, "bn1", F.conv2d(x, p["conv1.weight"], stride=2, padding=3))), 3, 2, 1)
    s = 1
    while f"layer{s}.0.conv1.weight" in p:
        i = 0
        while f"layer{s}.{i}.conv1.weight" in p:
            q = f"layer{s}.{i}"
            st = 2 if (s > 1 and i == 0) else 1
            idn = bn(p, q + ".downsample.1", F.conv2d(x, p[q + ".downsample.0.weight"], stride=st)) \
                if q + ".downsample.0.weight" in p else x
            if q + ".conv3.weight" in p:
                o = F.relu(bn(p, q + ".bn1", F.conv2d(x, p[q + ".conv1.weight"])))
                o = F.relu(bn(p, q + ".bn2", F.conv2d(o, p[q + ".conv2.weight"], stride=st, padding=1)))
                o = bn(p, q + ".bn3", F.conv2d(o, p[q + ".conv3.weight"]))
            else:
                o = F.relu(bn(p, q + ".bn1", F.conv2d(x, p[q + ".conv1.weight"], stride=st, padding=1)))
                o = bn(p, q + ".bn2", F.conv2d(o, p[q + ".conv2.weight"], padding=1))
            x = F.relu(o + idn)
            i += 1
        s += 1
    return x, F.linear(x.mean((2, 3)), p["fc.weight"], p["fc.bias"])


def densenet(p, x):
    # Accept the old `norm.1` spelling as torchvision's _load_state_dict does.
    import re
    pat = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$")
    p = {(pat.sub(lambda m: m.group(1) + m.group(2), k)): v for k, v in p.items()}
    x = F.max_pool2d(F.relu(bn(p, "features.norm0", F.conv2d(x, p["features.conv0.weight"], stride=2, padding=3))), 3, 2, 1)
    i = 1
    while f"features.denseblock{i}.denselayer1.conv1.weight" in p:
        l = 1
        while f"features.denseblock{i}.denselayer{l}.conv1.weight" in p:
            q = f"features.denseblock{i}.denselayer{l}"
            y = F.conv2d(F.relu(bn(p, q + ".norm1", x)), p[q + ".conv1.weight"])
            y = F.conv2d(F.relu(bn(p, q + ".norm2", y)), p[q + ".conv2.weight"], padding=1)
            x = torch.cat([x, y], 1)
            l += 1
        t = f"features.transition{i}"
        if t + ".conv.weight" in p:
            x = F.avg_pool2d(F.conv2d(F.relu(bn(p, t + ".norm", x)), p[t + ".conv.weight"]), 2, 2)
        i += 1
    f = F.relu(bn(p, "features.norm5", x))
    return f, F.linear(f.mean((2, 3)), p["classifier.weight"], p["classifier.bias"])


def fixture_input(shape):
    n = int(np.prod(shape))
    k = (np.arange(n, dtype=np.int64) * 7919) % 1000
    return torch.from_numpy((k.astype(np.float32) / np.float32(500.0) - np.float32(1.0)).reshape(shape))


worst = 0.0
for name in sys.argv[2:]:
    doc = json.loads((out / f"{name}.json").read_text())
    fwd = {"resnet": resnet, "densenet": densenet}[doc["arch"]]
    for f in doc["files"]:
        if not f.endswith(".pth"):
            continue
        sd = torch.load(out / f, map_location="cpu", weights_only=True)
        feats, logits = fwd(sd, fixture_input(doc["input_shape"]))
        o = doc["outputs"]
        d_f = (feats.flatten() - torch.tensor(o["features"], dtype=torch.float32)).abs().max().item()
        d_l = (logits.flatten() - torch.tensor(o["logits"], dtype=torch.float32)).abs().max().item()
        worst = max(worst, d_f, d_l)
        print(f"torch {torch.__version__}: {f}: {len(sd)} tensors, max abs diff features {d_f:.2e}, logits {d_l:.2e}")
if worst > 1e-4:
    sys.exit(f"torch disagrees with the numpy reference: {worst:.2e} > 1e-4")
"""


def verify_with_torch(out, names):
    """Reload the ResNet/DenseNet .pth files with the real torch.load and recompute their
    outputs with torch.nn.functional, in a fresh process (the writers stand in for torch)."""
    import subprocess

    names = [n for n in names if n.startswith(("resnet", "densenet"))]
    if names:
        subprocess.run([sys.executable, "-c", TORCH_CHECK, str(out), *names], check=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--only", nargs="*", choices=sorted(FIXTURES), help="build only these fixtures")
    ap.add_argument("--verify-with-torch", action="store_true")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.only or FIXTURES:
        files = FIXTURES[name](args.out, args.verify_with_torch)
        sizes = ", ".join(f"{f} {(args.out / f).stat().st_size / 1024:.0f} KiB" for f in files)
        print(f"{name}: {sizes}")
    if args.verify_with_torch:
        verify_with_torch(args.out, args.only or list(FIXTURES))


if __name__ == "__main__":
    main()
