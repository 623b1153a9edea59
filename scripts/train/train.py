#!/usr/bin/python3
"""Trains Vigil's demo lesion network on tensors exported by the edge's own preprocessing, then
exports ONNX (opset 13). Run through `npm run train`; uses Debian's python3-torch.

usage: train.py TENSOR_DIR OUT_ONNX --epochs E --seed S [--threads T] [--crop C] [--batch B]
Prints one JSON line per epoch (progress) and a final JSON summary.

Training sees random crops (C×C input pixels) of the full preprocessed images: about half centred
near a finding, some near a benign look-alike (hard negatives), the rest anywhere. Each epoch takes
one crop per training image. The network is fully convolutional, so the exported model runs on the
whole image; its output map has stride 2 (half the input resolution).
"""
import argparse, json, math, random, time, warnings
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("tensors"); p.add_argument("onnx")
p.add_argument("--epochs", type=int, default=24); p.add_argument("--seed", type=int, default=1)
p.add_argument("--threads", type=int, default=2); p.add_argument("--batch", type=int, default=16)
p.add_argument("--crop", type=int, default=192)
p.add_argument("--lr", type=float, default=3e-3)
p.add_argument("--pos-weight", type=float, default=3.0)
p.add_argument("--dice-weight", type=float, default=0.5)
p.add_argument("--whole-findings", action="store_true",
               help="a crop drawn at a finding holds all of it where it fits (less jitter for large masses)")
p.add_argument("--large-share", type=float, default=0.0,
               help="share of finding crops drawn at a large finding (radius >= 1/8 of the crop) where the image has one")
p.add_argument("--val-images", type=int, default=96)
p.add_argument("--geometric", type=float, default=0.0, help="strength of random scale (±25 %%·g) and rotation (±10°·g) per crop; 0 = none")
p.add_argument("--real-repeat", type=int, default=1, help="each real image (acquisition set in the index) is seen this many times per epoch, phantoms once")
p.add_argument("--val-fraction", type=float, default=0.2, help="share of patients held out for the run's own validation and threshold calibration")
p.add_argument("--init", default=None, help="fine-tune this model (ONNX, as this script exports it) instead of starting afresh")
p.add_argument("--anchor", type=float, default=0.0, help="with --init, pull the weights toward the initial model's (L2-SP: + anchor/2 · Σ(w − w₀)²), so fine-tuning on new images forgets less of what it knew; 0 = none")
p.add_argument("--init-branch", default="digital", choices=["digital", "film"], help="with --init a model with a branch per acquisition (branches.py): start from this branch")
a = p.parse_args()

torch.manual_seed(a.seed); random.seed(a.seed); np.random.seed(a.seed)
torch.set_num_threads(a.threads)
torch.use_deterministic_algorithms(True)
STRIDE = 2

index = json.load(open(f"{a.tensors}/index.json"))
n, h, w = index["count"], index["height"], index["width"]
assert index["stride"] == STRIDE, f"this network's output stride is {STRIDE}, tensors were made for {index['stride']}"
mh, mw = math.ceil(h / STRIDE), math.ceil(w / STRIDE)
x = torch.from_numpy(np.fromfile(f"{a.tensors}/inputs.u16", dtype=np.uint16).astype(np.int32).reshape(n, 1, h, w))
y = torch.from_numpy(np.fromfile(f"{a.tensors}/targets.u8", dtype=np.uint8).reshape(n, 1, mh, mw))
images = index["images"]

# Held-out split by patient, so no patient is in both sets.
patients = sorted({i["patientId"] for i in images})
rng = random.Random(a.seed); rng.shuffle(patients)
held = set(patients[: max(1, int(len(patients) * a.val_fraction))]) if a.val_fraction > 0 else set()
train_idx = [k for k, i in enumerate(images) if i["patientId"] not in held]
val_idx = [k for k, i in enumerate(images) if i["patientId"] in held][: a.val_images]
crop = min(a.crop, h, w) // 16 * 16


class LesionNet(nn.Module):
    """U-Net-like: four stride-2 stages (input/16) with a dilated context block (a receptive field of
    ~190 input pixels, ~75 mm: the centre of a 50 mm mass still sees its edge), decoding to input/4, a
    1×1 head and a bilinear ×2 upsampling of the logits to input/2."""

    def __init__(self, folded=False):
        super().__init__()
        # folded: batch norm folded into the convolutions, as the ONNX export does (fine-tuning an exported model).
        def block(cin, cout, s=1, d=1):
            conv = nn.Conv2d(cin, cout, 3, stride=s, padding=d, dilation=d, bias=folded)
            return nn.Sequential(conv, nn.Identity() if folded else nn.BatchNorm2d(cout), nn.ReLU(inplace=True))
        self.e1 = nn.Sequential(block(1, 16, 2), block(16, 16))        # /2
        self.e2 = nn.Sequential(block(16, 32, 2), block(32, 32))       # /4
        self.e3 = nn.Sequential(block(32, 48, 2), block(48, 48))       # /8
        self.e4 = nn.Sequential(block(48, 64, 2), block(64, 64), block(64, 64, d=2))  # /16
        self.d3 = block(64 + 48, 48)
        self.d2 = nn.Sequential(block(48 + 32, 32), block(32, 32))
        self.head = nn.Conv2d(32, 1, 1)

    def forward(self, t):
        e1 = self.e1(t); e2 = self.e2(e1); e3 = self.e3(e2); e4 = self.e4(e3)
        u = F.interpolate(e4, size=e3.shape[-2:], mode="bilinear", align_corners=False)
        u = self.d3(torch.cat([u, e3], 1))
        u = F.interpolate(u, size=e2.shape[-2:], mode="bilinear", align_corners=False)
        u = self.d2(torch.cat([u, e2], 1))
        logits = F.interpolate(self.head(u), size=e1.shape[-2:], mode="bilinear", align_corners=False)
        return logits


class Exported(nn.Module):
    def __init__(self, net):
        super().__init__(); self.net = net

    def forward(self, t):
        return torch.sigmoid(self.net(t))


def as_input(raw):
    return raw.float() / 65535.0


def sample_crop(k):
    """A crop origin (multiple of the stride) for image k, centred near a finding, a look-alike or anywhere."""
    centres = images[k]["centres"]
    findings = [c for c in centres if c["kind"] == "finding"]
    lookalikes = [c for c in centres if c["kind"] == "lookalike"]
    u = rng.random()
    if findings and u < 0.6:
        # Drawn only with --large-share, so the random stream of a recipe without it is as before.
        large = [f for f in findings if f.get("radius", 0) >= crop // 8] if a.large_share > 0 else []
        if large and rng.random() < a.large_share:
            c = rng.choice(large)
        else:
            # One finding type at a time, so an image's rarer finding is not crowded out by its masses.
            kind = rng.choice(sorted({f.get("type", "") for f in findings}))
            c = rng.choice([f for f in findings if f.get("type", "") == kind])
        jitter = crop // 2 - 24
        if a.whole_findings:
            jitter = max(0, min(jitter, crop // 2 - c.get("radius", 0) - 8))
        cx, cy = c["x"] + rng.randint(-jitter, jitter), c["y"] + rng.randint(-jitter, jitter)
    elif lookalikes and u < 0.8:
        c = rng.choice(lookalikes); jitter = crop // 2 - 24
        cx, cy = c["x"] + rng.randint(-jitter, jitter), c["y"] + rng.randint(-jitter, jitter)
    else:
        cx, cy = rng.randint(0, int(w * 0.8)), rng.randint(0, h)
    x0 = min(max(0, cx - crop // 2), w - crop) // STRIDE * STRIDE
    y0 = min(max(0, cy - crop // 2), h - crop) // STRIDE * STRIDE
    return x0, y0


def warp(xc, yc):
    """Random scale and rotation about the crop centre, the same for image and target (breasts differ
    in size, film and digital detectors in pixel pitch, and positioning in angle)."""
    scale = 1 + rng.uniform(-0.25, 0.25) * a.geometric
    angle = math.radians(rng.uniform(-10, 10) * a.geometric)
    c, s_ = math.cos(angle) / scale, math.sin(angle) / scale
    theta = torch.tensor([[[c, -s_, 0.0], [s_, c, 0.0]]], dtype=torch.float32)
    gx = F.affine_grid(theta, [1, 1, *xc.shape[-2:]], align_corners=False)
    gy = F.affine_grid(theta, [1, 1, *yc.shape[-2:]], align_corners=False)
    xw = F.grid_sample(xc[None], gx, mode="bilinear", padding_mode="zeros", align_corners=False)[0]
    yw = (F.grid_sample(yc[None], gy, mode="bilinear", padding_mode="zeros", align_corners=False)[0] > 0.5).float()
    return xw, yw


def batch_of(idx):
    xs, ys = [], []
    for k in idx:
        x0, y0 = sample_crop(k)
        xc = as_input(x[k, :, y0 : y0 + crop, x0 : x0 + crop])
        yc = y[k, :, y0 // STRIDE : (y0 + crop) // STRIDE, x0 // STRIDE : (x0 + crop) // STRIDE].float()
        if rng.random() < 0.5:  # vertical flip keeps the chest wall left
            xc, yc = torch.flip(xc, [1]), torch.flip(yc, [1])
        if a.geometric > 0:
            xc, yc = warp(xc, yc)
        # Exposure and noise variation: gamma, gain and a little white noise (the letterbox stays 0).
        gamma, gain, noise = rng.uniform(0.8, 1.25), rng.uniform(0.9, 1.1), rng.uniform(0.0, 0.01)
        body = (xc > 0).float()
        xc = (xc.clamp(min=0) ** gamma * gain + noise * torch.randn(xc.shape) * body).clamp(0, 1)
        xs.append(xc); ys.append(yc)
    return torch.stack(xs), torch.stack(ys)


def loss_fn(logits, target):
    bce = F.binary_cross_entropy_with_logits(logits, target, pos_weight=torch.tensor(a.pos_weight))
    prob = torch.sigmoid(logits)
    inter = (prob * target).sum(); dice = 1 - (2 * inter + 1) / (prob.sum() + target.sum() + 1)
    return bce + a.dice_weight * dice


def auc(scores, labels):
    pos = [s for s, l in zip(scores, labels) if l]; neg = [s for s, l in zip(scores, labels) if not l]
    if not pos or not neg:
        return float("nan")
    wins = sum((1.0 if p > q else 0.5 if p == q else 0.0) for p in pos for q in neg)
    return wins / (len(pos) * len(neg))


def validate(model):
    model.eval(); losses, scores, labels = [], [], []
    with torch.no_grad():
        for s in range(0, len(val_idx), 8):
            idx = val_idx[s : s + 8]
            logits = model(as_input(x[idx]))
            losses.append(float(loss_fn(logits, y[idx].float())) * len(idx))
            scores += torch.sigmoid(logits).amax(dim=(1, 2, 3)).tolist(); labels += [images[k]["positive"] for k in idx]
    return sum(losses) / max(1, len(val_idx)), auc(scores, labels)


def load_onnx(net, path):
    """The exported graph's convolutions, in graph order, are this network's, in module order
    (batch norm folded in): copy their weights and biases."""
    import onnx
    from onnx import numpy_helper
    graph = onnx.load(path).graph
    branched = [node for node in graph.node if node.op_type == "If"]
    if branched:  # a model with a branch per acquisition: the chosen branch's graph (names prefixed)
        attrs = {attr.name: attr.g for attr in branched[0].attribute}
        graph = attrs["then_branch" if a.init_branch == "film" else "else_branch"]
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    layers = [[inits[name] for name in node.input[1:]] for node in graph.node if node.op_type == "Conv"]
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    if len(layers) != len(convs):
        raise SystemExit(f"{path}: {len(layers)} convolutions, this network has {len(convs)}: not a model this trainer made")
    with torch.no_grad():
        for conv, (weight, bias) in zip(convs, layers):
            if tuple(weight.shape) != tuple(conv.weight.shape):
                raise SystemExit(f"{path}: a convolution of shape {weight.shape} where this network has {tuple(conv.weight.shape)}")
            conv.weight.copy_(torch.from_numpy(weight.copy())); conv.bias.copy_(torch.from_numpy(bias.copy()))


model = LesionNet(folded=a.init is not None)
if a.init:
    load_onnx(model, a.init)
params = sum(p.numel() for p in model.parameters())
# L2-SP (Li et al. 2018): the starting weights as the prior, rather than zero.
anchored = [(q, q.detach().clone()) for q in model.parameters()] if a.init and a.anchor > 0 else []


def anchor_loss():
    return 0.5 * a.anchor * sum(((q - q0) ** 2).sum() for q, q0 in anchored) if anchored else 0.0

opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=1e-4)

# Calcification clusters are sparse specks, the hardest finding to learn: images with one are seen
# twice per epoch.
calc_idx = [k for k in train_idx if any(c.get("type") == "calcification-cluster" for c in images[k]["centres"])]
# Real images are few beside the phantoms: seen --real-repeat times per epoch (each time a new crop).
real_idx = [k for k in train_idx if images[k].get("acquisition")] * max(0, a.real_repeat - 1)
steps_per_epoch = max(1, math.ceil((len(train_idx) + len(calc_idx) + len(real_idx)) / a.batch))
sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=steps_per_epoch * a.epochs) if a.epochs > 0 else None

started = time.time()
for epoch in range(a.epochs):
    model.train(); order = train_idx + calc_idx + real_idx; rng.shuffle(order); total = 0.0
    for s in range(0, len(order), a.batch):
        idx = order[s : s + a.batch]
        xb, yb = batch_of(idx)
        loss = loss_fn(model(xb), yb) + anchor_loss()
        opt.zero_grad(); loss.backward(); opt.step(); sched.step(); total += float(loss) * len(idx)
    val_loss, val_auc = validate(model) if val_idx else (float("nan"), float("nan"))
    print(json.dumps({"epoch": epoch + 1, "epochs": a.epochs, "trainLoss": round(total / max(1, len(order)), 4), "valLoss": round(val_loss, 4),
                      "valAuc": round(val_auc, 4) if val_auc == val_auc else None, "elapsedS": round(time.time() - started, 1)}), flush=True)

model.eval()
warnings.filterwarnings("ignore")  # the exporter's shape-inference notes are not actionable
if a.epochs == 0:
    # No training: the export must reproduce the initial model (a check of the weight transfer).
    print(json.dumps({"epoch": 0, "epochs": 0}), flush=True)
torch.onnx.export(Exported(model), torch.zeros(1, 1, h, w), a.onnx, opset_version=13, input_names=["image"], output_names=["lesion_probability"],
                  dynamic_axes={"image": {0: "batch"}, "lesion_probability": {0: "batch"}})
print(json.dumps({"done": True, "parameters": params, "train": len(train_idx), "heldOut": len(images) - len(train_idx), "validatedImages": len(val_idx), "heldOutPatients": sorted(held),
                  "cropPixels": crop, "seconds": round(time.time() - started, 1)}), flush=True)
