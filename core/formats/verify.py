"""Runs an exported model with its own runtime, in a fresh process (no `core` imports).

python verify.py RUNTIME INPUTS.npz OUT_FOLDER MODEL [MODEL ...]

RUNTIME is `keras`, `savedmodel`, `tflite` or `onnx`. INPUTS.npz holds input sets as
`SET/INPUT_NAME` arrays (text as unicode arrays); OUT_FOLDER gets `<i>.npz` for the
i-th model, one output array per set. It prints one JSON line per model: its inputs
and outputs as the runtime sees them and the median latency of a single prediction
(the first row of the first set), in ms.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

LATENCY_RUNS = 30
Runner = Callable[[dict[str, np.ndarray]], np.ndarray]


def _details(items: list[tuple[str, list[int], str]]) -> list[dict]:
    return [{"name": n, "shape": s, "dtype": d} for n, s, d in items]


def _dtype_name(dtype: Any) -> str:
    """`float32`, `string` (numpy's bytes and object types), ..."""
    dtype = np.dtype(dtype)
    return "string" if dtype.kind in "OSU" else dtype.name


def keras_runner(path: Path) -> tuple[Runner, dict]:
    """The .keras model itself, loaded in safe mode."""
    import keras

    model = keras.saving.load_model(path, compile=False)
    names = [t.name for t in model.inputs]

    def run(feed: dict[str, np.ndarray]) -> np.ndarray:
        x = feed if len(names) > 1 else feed[names[0]]
        return np.asarray(model(x, training=False))

    inputs = [(t.name, list(t.shape), str(t.dtype)) for t in model.inputs]
    outputs = [("output_0", list(model.outputs[0].shape), "float32")]
    return run, {"inputs": _details(inputs), "outputs": _details(outputs)}


def savedmodel_runner(path: Path) -> tuple[Runner, dict]:
    """`tf.saved_model.load` and its `serving_default` signature."""
    import tensorflow as tf

    signature = tf.saved_model.load(str(path)).signatures["serving_default"]
    _, specs = signature.structured_input_signature
    out_specs = signature.structured_outputs

    def run(feed: dict[str, np.ndarray]) -> np.ndarray:
        result = signature(**{k: tf.constant(v) for k, v in feed.items()})
        return result[sorted(result)[0]].numpy()

    described = {
        "inputs": _details(
            [(k, s.shape.as_list(), s.dtype.name) for k, s in sorted(specs.items())]
        ),
        "outputs": _details(
            [(k, s.shape.as_list(), s.dtype.name) for k, s in sorted(out_specs.items())]
        ),
    }
    return run, described


def tflite_runner(path: Path) -> tuple[Runner, dict]:
    """The LiteRT interpreter (`ai_edge_litert`) and the model's signature runner."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    runner = interpreter.get_signature_runner()

    def run(feed: dict[str, np.ndarray]) -> np.ndarray:
        encoded = {
            k: np.char.encode(v, "utf-8") if v.dtype.kind == "U" else v
            for k, v in feed.items()
        }
        result = runner(**encoded)
        return np.asarray(result[sorted(result)[0]])

    def listed(details: dict) -> list[tuple[str, list[int], str]]:
        return [
            (name, [int(d) for d in d_["shape_signature"]], _dtype_name(d_["dtype"]))
            for name, d_ in sorted(details.items())
        ]

    order = [d["name"] for d in interpreter.get_input_details()]
    described = {
        "inputs": _details(listed(runner.get_input_details())),
        "outputs": _details(listed(runner.get_output_details())),
        "tensor_order": order,  # Swift and the index-based APIs feed inputs in this order
    }
    return run, described


def onnx_runner(path: Path) -> tuple[Runner, dict]:
    """An onnxruntime CPU session; input `x` feeds the graph input `x:0`."""
    import onnxruntime

    session = onnxruntime.InferenceSession(
        str(path), providers=["CPUExecutionProvider"]
    )
    names = {i.name.split(":")[0]: i.name for i in session.get_inputs()}

    def run(feed: dict[str, np.ndarray]) -> np.ndarray:
        return session.run(None, {names[k]: v for k, v in feed.items()})[0]

    def listed(items: list) -> list[tuple[str, list, str]]:
        return [
            (i.name, [d if isinstance(d, int) else -1 for d in i.shape], i.type)
            for i in items
        ]

    described = {
        "inputs": _details(listed(session.get_inputs())),
        "outputs": _details(listed(session.get_outputs())),
    }
    return run, described


RUNTIMES = {
    "keras": keras_runner,
    "savedmodel": savedmodel_runner,
    "tflite": tflite_runner,
    "onnx": onnx_runner,
}


def read_sets(path: Path) -> dict[str, dict[str, np.ndarray]]:
    """Groups `SET/NAME` arrays into one feed per set."""
    sets: dict[str, dict[str, np.ndarray]] = {}
    with np.load(path, allow_pickle=False) as stored:
        for key in stored.files:
            group, name = key.split("/", 1)
            sets.setdefault(group, {})[name] = stored[key]
    return sets


def latency_ms(run: Runner, feed: dict[str, np.ndarray]) -> float:
    """Median time of one single-row prediction, after three warm-up calls."""
    one = {k: v[:1] for k, v in feed.items()}
    for _ in range(3):
        run(one)
    times = []
    for _ in range(LATENCY_RUNS):
        start = time.perf_counter()
        run(one)
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runtime", choices=sorted(RUNTIMES))
    parser.add_argument("inputs", type=Path)
    parser.add_argument("out_folder", type=Path)
    parser.add_argument("models", type=Path, nargs="+")
    args = parser.parse_args()
    sets = read_sets(args.inputs)
    for index, model in enumerate(args.models):
        run, described = RUNTIMES[args.runtime](model)
        outputs = {name: run(feed).astype("float64") for name, feed in sets.items()}
        np.savez(args.out_folder / f"{index}.npz", **outputs)
        first = sets[sorted(sets)[0]]
        print(json.dumps({**described, "latency_ms": latency_ms(run, first)}))


if __name__ == "__main__":
    main()
