"""The TensorFlow side of exports: record model-level inputs, convert, run verify.py.

Runs in its own process (`python -m core.formats.convert RUN_ID FORMAT`, started by
`core.formats.export_format`), so the app never imports TensorFlow to convert.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from core import prediction, runs  # noqa: E402
from core.catalog import get_template  # noqa: E402
from core.errors import (
    Refusal,  # noqa: E402
)
from core.formats import verify  # noqa: E402
from core.templates.params import resolve_params  # noqa: E402

ONNX_OPSET = 17
REPRESENTATIVE_ROWS = 100
Feed = dict[str, np.ndarray]


@dataclass
class Recorded:
    """Model-level inputs: the check sets, the test rows and their targets, the layout."""

    checks: list[Feed]
    as_dict: bool  # the model is called with a dict of named inputs
    test: Feed | None = None
    targets: np.ndarray | None = None
    train: Feed | None = None


class _Recorder:
    """Stands in for the model in the template's predict path and keeps what it is fed."""

    def __init__(self, model: Any) -> None:
        self.model, self.calls = model, []

    def __call__(self, x: Any, training: bool = False) -> Any:
        self.calls.append(x)
        return self.model(x, training=False)

    def predict(self, x: Any, **kwargs: Any) -> Any:
        self.calls.append(x)
        return self.model.predict(x, **kwargs)


def as_feed(x: Any, model: Any, limit: int | None = None) -> Feed:
    """Named numpy arrays (text as unicode, numbers as float32) for what a model takes.

    Args:
        x: model inputs: an array, a dict of arrays or a tf.data pipeline of batches.
        model: the Keras model (it names a single input).
        limit: keep at most this many rows.
    """
    if hasattr(x, "as_numpy_iterator"):  # a tf.data pipeline of (inputs, targets)
        x = _concatenate(_batches(x, limit))
    named = x if isinstance(x, dict) else {model.inputs[0].name: x}
    feed = {}
    for name, values in named.items():
        array = np.asarray(values)[:limit]
        text = array.dtype.kind in "OUS"
        feed[name] = array.astype(str) if text else array.astype("float32")
    return feed


def _batches(dataset: Any, limit: int | None) -> list[Any]:
    batches, rows = [], 0
    for batch in dataset.as_numpy_iterator():
        inputs = batch[0] if isinstance(batch, tuple) else batch
        batches.append(inputs)
        rows += len(next(iter(inputs.values())) if isinstance(inputs, dict) else inputs)
        if limit is not None and rows >= limit:
            break
    return batches


def _concatenate(batches: list[Any]) -> Any:
    if isinstance(batches[0], dict):
        return {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}
    return np.concatenate(batches)


def record(run_id: str, model: Any, splits: bool = True) -> Recorded:
    """Captures the model inputs the template's predict path makes from the check input.

    With `splits`, the run's data is prepared again for its test and training rows.

    Raises:
        Refusal: if the run has no recorded check input (e.g. an imported bundle),
            or its model has several outputs (each format is checked on one).
    """
    if len(model.outputs) > 1:
        names = ", ".join(model.output_names)
        raise Refusal(
            f"This model gives {len(model.outputs)} outputs ({names}) and these "
            "formats are checked with one; use its bundle (model.keras + predict.py) "
            "instead."
        )
    spec = runs.load_spec(run_id)
    template = get_template(spec["template"])
    folder = runs.run_dir(run_id) / prediction.CHECK_INPUT_DIR
    name = runs.read_json(folder / "input.json").get("name", "")
    if not name:
        raise Refusal(
            "This run has no recorded check inputs to verify an export with (it "
            "was imported or trained before they were kept); use its bundle instead."
        )
    recorder = _Recorder(model)
    template.predict_file(recorder, folder / name, runs.load_info(run_id))
    recorded = Recorded(
        [as_feed(x, model) for x in recorder.calls],
        isinstance(recorder.calls[0], dict),
    )
    if splits and spec.get("dataset_id"):
        _add_splits(recorded, template, spec, model)
    return recorded


def _add_splits(recorded: Recorded, template: Any, spec: dict, model: Any) -> None:
    """Prepares the run's data again (same seed) for its test and training rows."""
    params = resolve_params(template, spec["params"])
    frame = template.load_data(spec["dataset_id"])
    prepared = template.prepare(frame, spec["target"], params, int(params["seed"]))
    recorded.test = as_feed(prepared.test.inputs, model)
    recorded.targets = np.asarray(prepared.test.targets)
    recorded.train = as_feed(prepared.train.inputs, model, REPRESENTATIVE_ROWS)


def signature(recorded: Recorded) -> list[Any]:
    """The fixed input signature: the recorded shapes, with any number of rows."""
    import tensorflow as tf

    specs = {
        name: tf.TensorSpec(
            (None, *array.shape[1:]),
            tf.string if array.dtype.kind == "U" else tf.float32,
            name=name,
        )
        for name, array in recorded.checks[0].items()
    }
    return [specs] if recorded.as_dict else list(specs.values())


def to_savedmodel(model: Any, recorded: Recorded, folder: Path) -> Path:
    """Writes a SavedModel with a `serving_default` signature of fixed input shapes."""
    model.export(
        str(folder),
        format="tf_saved_model",
        input_signature=signature(recorded),
        verbose=False,
    )
    return folder


TFLITE_VARIANTS = {  # file name -> what it is, in words
    "float32": "float32 as trained",
    "float16": "float16 weights",
    "int8": "dynamic-range int8: int8 weights, float maths",
    "int8_full": "full int8: weights and activations, calibrated on training rows",
}


def to_tflite(saved: Path, variant: str, recorded: Recorded) -> bytes:
    """Converts a SavedModel to TFLite with only built-in ops, at one precision."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
    if variant != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if variant == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if variant == "int8_full":
        if recorded.train is None:
            raise Refusal("there are no training rows to calibrate it on")
        converter.representative_dataset = lambda: _representative(recorded.train)
    return converter.convert()


def _representative(train: Feed) -> Any:
    rows = len(next(iter(train.values())))
    for index in range(min(rows, REPRESENTATIVE_ROWS)):
        yield {name: values[index : index + 1] for name, values in train.items()}


def to_onnx(saved: Path, path: Path, recorded: Recorded) -> Path:
    """Converts a SavedModel with tf2onnx (the converter Keras' own ONNX export uses).

    Raises:
        Refusal: for text inputs, whose lookup tables tf2onnx cannot translate.
    """
    text = [n for n, a in recorded.checks[0].items() if a.dtype.kind == "U"]
    if text:
        raise Refusal(
            f"ONNX cannot carry this model: its text or category inputs {text} are "
            "looked up in tables that the ONNX converter (tf2onnx) cannot translate. "
            "Use the SavedModel or TFLite download instead, which keep them."
        )
    import tf2onnx
    from keras.src.export.tf2onnx_lib import patch_tf2onnx
    from tf2onnx import tf_loader

    patch_tf2onnx()  # as keras.Model.export(format="onnx"): numpy 2 support
    graph, inputs, outputs = tf_loader.from_saved_model(
        str(saved), None, None, signatures=["serving_default"]
    )
    tf2onnx.convert.from_graph_def(
        graph,
        input_names=inputs,
        output_names=outputs,
        opset=ONNX_OPSET,
        output_path=str(path),
    )
    return path


def run_verify(runtime: str, paths: list[Path], recorded: Recorded) -> list[dict]:
    """Runs verify.py in one fresh process on the check sets (and the test rows).

    Returns:
        For each file: the runtime's view of inputs and outputs, the latency, and the
        output `arrays` by set.

    Raises:
        Refusal: if an exported file does not load or run.
    """
    with tempfile.TemporaryDirectory() as tmp:
        inputs = Path(tmp) / "inputs.npz"
        np.savez(inputs, **_sets(recorded))
        command = [sys.executable, verify.__file__, runtime, str(inputs), tmp]
        result = subprocess.run(
            [*command, *map(str, paths)], capture_output=True, text=True, timeout=600
        )
        if result.returncode != 0:
            tail = (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise Refusal(f"the exported file failed to run in {runtime}: {tail}")
        lines = result.stdout.strip().splitlines()[-len(paths) :]
        reports = [json.loads(line) for line in lines]
        for index, report in enumerate(reports):
            with np.load(Path(tmp) / f"{index}.npz", allow_pickle=False) as stored:
                report["arrays"] = {k: stored[k] for k in stored.files}
    return reports


def _sets(recorded: Recorded) -> dict[str, np.ndarray]:
    sets = {f"check{i}": feed for i, feed in enumerate(recorded.checks)}
    if recorded.test is not None:
        sets["test"] = recorded.test
    return {f"{s}/{name}": a for s, feed in sets.items() for name, a in feed.items()}
