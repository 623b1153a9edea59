#!/usr/bin/python3
"""Trains Vigil's demo lesion FCN on tensors exported by the edge's own preprocessing, then exports
ONNX (opset 13). Run through `npm run train`; uses Debian's python3-torch.

usage: train.py TENSOR_DIR OUT_ONNX --epochs E --seed S [--threads T]
Prints one JSON line per epoch (progress) and a final JSON summary.
"""
import argparse, json, math, random, sys, time
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("tensors"); p.add_argument("onnx")
p.add_argument("--epochs", type=int, default=15); p.add_argument("--seed", type=int, default=1)
p.add_argument("--threads", type=int, default=2); p.add_argument("--batch", type=int, default=16)
p.add_argument("--lr", type=float, default=3e-3)
# A heavy positive weight makes the map light up everywhere (every image scores high); a moderate one
# keeps the background low so the image score (map maximum) separates images with and without lesions.
p.add_argument("--pos-weight-cap", type=float, default=6.0)
p.add_argument("--dice-weight", type=float, default=0.5)
a = p.parse_args()

torch.manual_seed(a.seed); random.seed(a.seed); np.random.seed(a.seed)
torch.set_num_threads(a.threads)
torch.use_deterministic_algorithms(True)

index = json.load(open(f"{a.tensors}/index.json"))
n, h, w, stride = index["count"], index["height"], index["width"], index["stride"]
x = torch.from_numpy(np.fromfile(f"{a.tensors}/inputs.f32", dtype=np.float32).reshape(n, 1, h, w))
y = torch.from_numpy(np.fromfile(f"{a.tensors}/targets.u8", dtype=np.uint8).reshape(n, 1, h // stride, w // stride).astype(np.float32))

# Held-out split by patient, so no patient is in both sets.
patients = sorted({i["patientId"] for i in index["images"]})
rng = random.Random(a.seed); rng.shuffle(patients)
held = set(patients[: max(1, len(patients) // 5)])
train_idx = [k for k, i in enumerate(index["images"]) if i["patientId"] not in held]
val_idx = [k for k, i in enumerate(index["images"]) if i["patientId"] in held]


class LesionFCN(nn.Module):
    """~60k parameters: four stride-2 stages (input/16), a context block, upsampling to input/4."""

    def __init__(self):
        super().__init__()
        def block(cin, cout, s):
            return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=s, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))
        self.s1 = nn.Sequential(block(1, 12, 2), block(12, 12, 1))      # /2
        self.s2 = nn.Sequential(block(12, 24, 2), block(24, 24, 1))     # /4
        self.s3 = nn.Sequential(block(24, 32, 2), block(32, 32, 1))     # /8
        self.s4 = nn.Sequential(block(32, 40, 2), block(40, 40, 1))     # /16
        self.up3 = block(40 + 32, 32, 1)
        self.up2 = block(32 + 24, 24, 1)
        self.head = nn.Conv2d(24, 1, 1)

    def forward(self, t):
        a = self.s1(t); b = self.s2(a); c = self.s3(b); d = self.s4(c)
        u = F.interpolate(d, size=c.shape[-2:], mode="bilinear", align_corners=False)
        u = self.up3(torch.cat([u, c], 1))
        u = F.interpolate(u, size=b.shape[-2:], mode="bilinear", align_corners=False)
        u = self.up2(torch.cat([u, b], 1))
        return torch.sigmoid(self.head(u))


model = LesionFCN()
params = sum(p.numel() for p in model.parameters())
opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=1e-4)
steps = max(1, math.ceil(len(train_idx) / a.batch)) * a.epochs
sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=steps)
pos = float(y[train_idx].mean()) if train_idx else 0.01
pos_weight = min(a.pos_weight_cap, (1 - pos) / max(pos, 1e-4))


def loss_fn(out, target):
    weight = 1 + (pos_weight - 1) * target
    bce = F.binary_cross_entropy(out, target, weight=weight)
    inter = (out * target).sum(); dice = 1 - (2 * inter + 1) / (out.sum() + target.sum() + 1)
    return bce + a.dice_weight * dice


started = time.time()
for epoch in range(a.epochs):
    model.train(); order = train_idx[:]; rng.shuffle(order); total = 0.0
    for s in range(0, len(order), a.batch):
        idx = order[s : s + a.batch]
        xb, yb = x[idx], y[idx]
        if rng.random() < 0.5:
            xb, yb = torch.flip(xb, [2]), torch.flip(yb, [2])   # vertical flip keeps the chest wall left
        out = model(xb); loss = loss_fn(out, yb)
        opt.zero_grad(); loss.backward(); opt.step(); sched.step(); total += float(loss) * len(idx)
    model.eval()
    with torch.no_grad():
        val = float(loss_fn(model(x[val_idx]), y[val_idx])) if val_idx else float("nan")
    print(json.dumps({"epoch": epoch + 1, "epochs": a.epochs, "trainLoss": round(total / max(1, len(train_idx)), 4), "valLoss": round(val, 4), "elapsedS": round(time.time() - started, 1)}), flush=True)

model.eval()
torch.onnx.export(model, torch.zeros(1, 1, h, w), a.onnx, opset_version=13, input_names=["image"], output_names=["lesion_probability"],
                  dynamic_axes={"image": {0: "batch"}, "lesion_probability": {0: "batch"}})
print(json.dumps({"done": True, "parameters": params, "train": len(train_idx), "heldOut": len(val_idx), "heldOutPatients": sorted(held), "seconds": round(time.time() - started, 1)}), flush=True)
