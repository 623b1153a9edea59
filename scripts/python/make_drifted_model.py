"""Writes a deliberately different lesion model (for rollout drift-gate tests and demos): average
pooling to the output stride, one affine map and a sigmoid, so it calls most dense tissue suspicious.
Same input/output names and shapes as the trained model; deterministic; exported with torch.onnx."""
import argparse

import torch

parser = argparse.ArgumentParser()
parser.add_argument("--out", required=True)
parser.add_argument("--width", type=int, default=256)
parser.add_argument("--height", type=int, default=320)
parser.add_argument("--stride", type=int, default=4)
parser.add_argument("--gain", type=float, default=9.0)
parser.add_argument("--offset", type=float, default=-2.0)
a = parser.parse_args()


class Drifted(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.pool = torch.nn.AvgPool2d(a.stride)

    def forward(self, image):
        return torch.sigmoid(self.pool(image) * a.gain + a.offset)


torch.onnx.export(Drifted().eval(), torch.zeros(1, 1, a.height, a.width), a.out, opset_version=13,
                  input_names=["image"], output_names=["lesion_probability"],
                  dynamic_axes={"image": {0: "batch"}, "lesion_probability": {0: "batch"}})
