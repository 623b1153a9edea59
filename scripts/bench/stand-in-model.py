"""A stand-in for a GPU-fast model (issue 30): the shipped model's input and output, computed by one
2x2 average pool times zero, so inference takes well under a millisecond and the pipeline's own
stages are what limit throughput. Written with the onnx package (python3-onnx); used only by
`npm run bench -- pipeline`, never shipped.

usage: stand-in-model.py MANIFEST_IN OUT_DIR
"""
import hashlib
import json
import os
import sys

import onnx
from onnx import TensorProto, helper

manifest = json.load(open(sys.argv[1]))
out_dir = sys.argv[2]
w, h = manifest["input"]["width"], manifest["input"]["height"]
stride = manifest["output"]["stride"]
image = helper.make_tensor_value_info(manifest["input"]["name"], TensorProto.FLOAT, [1, 1, h, w])
prob = helper.make_tensor_value_info(manifest["output"]["name"], TensorProto.FLOAT, [1, 1, h // stride, w // stride])
zero = helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0])
graph = helper.make_graph(
    [
        helper.make_node("AveragePool", [manifest["input"]["name"]], ["pooled"], kernel_shape=[stride, stride], strides=[stride, stride]),
        helper.make_node("Mul", ["pooled", "zero"], [manifest["output"]["name"]]),
    ],
    "vigil-stand-in",
    [image],
    [prob],
    [zero],
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
model.ir_version = 8
onnx.checker.check_model(model)
os.makedirs(out_dir, exist_ok=True)
path = os.path.join(out_dir, "model.onnx")
onnx.save(model, path)
manifest.update(
    {
        "name": "vigil-stand-in",
        "version": "0.0.0",
        "file": "model.onnx",
        "sha256": hashlib.sha256(open(path, "rb").read()).hexdigest(),
    }
)
manifest.pop("selfTest", None)
manifest.pop("branches", None)  # the bench's phantoms are digital images: one graph input
json.dump(manifest, open(os.path.join(out_dir, "manifest.json"), "w"), indent=2)
