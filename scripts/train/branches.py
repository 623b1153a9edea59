#!/usr/bin/python3
"""One ONNX model with a branch per kind of acquisition: scanned film and digital mammograms look
different enough that one small network trained on both learns neither (model card, second round),
so each kind gets its own network and the edge says which to run with a boolean input. The graph is
an ONNX `If`: only the chosen branch runs, so inference costs what one network costs.

usage:
  branches.py compose DIGITAL.onnx FILM.onnx OUT.onnx [--selector film]
  branches.py extract COMPOSED.onnx digital|film OUT.onnx
Both branches must take the same input (name and shape) and give the same output; the composed
model keeps those names and adds the selector input (bool, shape [1]; true = the film branch).
`extract` gives back one branch as a plain model (fine-tuning starts from it).
"""
import sys
import onnx
from onnx import TensorProto, helper

BRANCHES = ("digital", "film")  # If: else_branch = digital, then_branch = film


def prefixed(graph, prefix, keep):
    """The graph as an If branch: no inputs (the image comes from the outer scope), every name but
    `keep` (the outer input) prefixed, so the two branches share no name."""
    rename = lambda name: name if name == "" or name in keep else f"{prefix}/{name}"
    nodes = []
    for node in graph.node:
        copy = onnx.NodeProto(); copy.CopyFrom(node)
        copy.name = rename(node.name)
        del copy.input[:]; copy.input.extend(rename(n) for n in node.input)
        del copy.output[:]; copy.output.extend(rename(n) for n in node.output)
        nodes.append(copy)
    inits = []
    for init in graph.initializer:
        copy = onnx.TensorProto(); copy.CopyFrom(init); copy.name = rename(init.name); inits.append(copy)
    outputs = []
    for out in graph.output:
        copy = onnx.ValueInfoProto(); copy.CopyFrom(out); copy.name = rename(out.name); outputs.append(copy)
    return helper.make_graph(nodes, f"{prefix}-branch", [], outputs, inits)


def compose(digital_path, film_path, out_path, selector="film"):
    digital, film = onnx.load(digital_path), onnx.load(film_path)
    for m in (digital, film):
        if any(n.op_type == "If" for n in m.graph.node):
            raise SystemExit(f"{out_path}: a branch is itself composed; extract its branch first")
    d, f = digital.graph, film.graph
    if [i.name for i in d.input] != [i.name for i in f.input] or [o.name for o in d.output] != [o.name for o in f.output]:
        raise SystemExit("the two models' inputs or outputs differ: they cannot share one input")
    if str(d.input[0].type) != str(f.input[0].type):
        raise SystemExit("the two models take inputs of different shapes")
    image = d.input[0].name
    output = d.output[0]
    node = helper.make_node("If", [selector], [output.name], name="acquisition",
                            then_branch=prefixed(f, "film", {image}), else_branch=prefixed(d, "digital", {image}))
    flag = helper.make_tensor_value_info(selector, TensorProto.BOOL, [1])
    graph = helper.make_graph([node], "vigil-by-acquisition", [d.input[0], flag], [output])
    model = helper.make_model(graph, opset_imports=list(digital.opset_import), producer_name="vigil branches.py")
    model.ir_version = digital.ir_version
    onnx.checker.check_model(model)
    onnx.save(model, out_path)


def extract(composed_path, branch, out_path):
    composed = onnx.load(composed_path)
    nodes = [n for n in composed.graph.node if n.op_type == "If"]
    if len(nodes) != 1 or branch not in BRANCHES:
        raise SystemExit(f"{composed_path}: not a model with digital and film branches")
    attr = {a.name: a.g for a in nodes[0].attribute}
    sub = attr["then_branch" if branch == "film" else "else_branch"]
    prefix = f"{branch}/"
    strip = lambda name: name[len(prefix):] if name.startswith(prefix) else name
    graph = onnx.GraphProto(); graph.CopyFrom(sub)
    for node in graph.node:
        node.name = strip(node.name)
        for i, n in enumerate(node.input): node.input[i] = strip(n)
        for i, n in enumerate(node.output): node.output[i] = strip(n)
    for init in graph.initializer: init.name = strip(init.name)
    for out in graph.output: out.name = strip(out.name)
    graph.input.extend([composed.graph.input[0]])
    graph.name = f"vigil-{branch}"
    model = helper.make_model(graph, opset_imports=list(composed.opset_import), producer_name="vigil branches.py")
    model.ir_version = composed.ir_version
    onnx.checker.check_model(model)
    onnx.save(model, out_path)


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) >= 4 and args[0] == "compose":
        selector = args[args.index("--selector") + 1] if "--selector" in args else "film"
        compose(args[1], args[2], args[3], selector)
    elif len(args) == 4 and args[0] == "extract":
        extract(args[1], args[2], args[3])
    else:
        raise SystemExit(__doc__)
