"""The model card of an exported format: its files, fixed shapes, precisions and code.

Each format's "Use it" section holds a short Python snippet (tests run it) and, for
TFLite, Kotlin (Android) and Swift (iOS) snippets with the same input and output
names and shapes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core import export

MAX_LITERAL = 8  # inputs with more values than this are shown as zeros


def card(metadata: dict[str, Any], result: dict[str, Any]) -> str:
    """Returns README.md for a format's zip: the bundle's card with its own "Use it"."""
    lines = [
        "## Use it",
        f"This download holds the model as {result['title']} ({result['file']}).",
        "",
        *_shape_lines(result),
        *_variant_lines(result),
        *SNIPPETS[result["format"]](result),
    ]
    return export.model_card(metadata, use_it=lines)


def _shape(shape: list[int]) -> str:
    return "(" + ", ".join("n" if d in (-1, None) else str(d) for d in shape) + ")"


def _shape_lines(result: dict[str, Any]) -> list[str]:
    inputs = result["inputs"]
    rows = [f"- `{i['name']}`: {_shape(i['shape'])} {i['dtype']}" for i in inputs]
    outputs = [f"- `{o['name']}`: {_shape(o['shape'])}" for o in result["outputs"]]
    return [
        "Inputs (fixed shapes: the sizes the app feeds the model; n is the number of "
        "rows or pictures, 1 on a phone; text goes in as UTF-8 strings):",
        *rows,
        "",
        "Output:",
        *outputs,
        "",
    ]


def _variant_lines(result: dict[str, Any]) -> list[str]:
    variants = result.get("variants", [])
    if len(variants) < 2:
        return []
    lines = [
        "| file | precision | size | test score | largest difference from Keras |",
        "|---|---|---|---|---|",
    ]
    for v in variants:
        if v.get("error"):
            lines.append(f"| - | {v['what']} | - | not possible: {v['error']} | - |")
            continue
        score = v.get("score")
        shown = f"{score[0]} {score[1]:.4g}" if score else "-"
        lines.append(
            f"| {v['file']} | {v['what']} | {v['size_bytes'] / 1024:.0f} KB | "
            f"{shown} | {v['max_abs_diff']:.2g} |"
        )
    return [*lines, ""]


def _example(result: dict[str, Any], name: str) -> np.ndarray | None:
    values = result.get("example", {}).get(name)
    return None if values is None else np.asarray(values)


def _python_array(result: dict[str, Any], spec: dict[str, Any]) -> str:
    """A numpy literal for one row of an input: the recorded row, or zeros if large."""
    shape = tuple(1 if d in (-1, None) else d for d in spec["shape"])
    values = _example(result, spec["name"])
    if "string" in spec["dtype"] or values is not None and values.dtype.kind == "U":
        text = "" if values is None else str(values.ravel()[0])
        return f"np.array({[[text.encode()]]!r})"
    if values is None or values.size > MAX_LITERAL:
        return f"np.zeros({shape}, dtype=np.float32)"
    literal = str(values.reshape(shape).tolist()).replace("nan", "np.nan")
    return f"np.array({literal}, dtype=np.float32)"


def python_tflite(result: dict[str, Any]) -> list[str]:
    feed = [f"    {i['name']!r}: {_python_array(result, i)}," for i in result["inputs"]]
    output = result["outputs"][0]["name"]
    return [
        "Python (`pip install ai-edge-litert numpy`):",
        "```python",
        "import numpy as np",
        "from ai_edge_litert.interpreter import Interpreter",
        "",
        'runner = Interpreter(model_path="model.tflite").get_signature_runner()',
        "inputs = {",
        *feed,
        "}",
        f"print(runner(**inputs)[{output!r}])",
        "```",
        "",
        *kotlin(result),
        *swift(result),
    ]


def python_onnx(result: dict[str, Any]) -> list[str]:
    feed = [f"    {i['name']!r}: {_python_array(result, i)}," for i in result["inputs"]]
    return [
        "Python (`pip install onnxruntime numpy`):",
        "```python",
        "import numpy as np",
        "import onnxruntime",
        "",
        'session = onnxruntime.InferenceSession("model.onnx")',
        "inputs = {",
        *feed,
        "}",
        "print(session.run(None, inputs)[0])",
        "```",
        "",
    ]


def python_savedmodel(result: dict[str, Any]) -> list[str]:
    feed = [
        f"    {i['name']!r}: tf.constant({_python_array(result, i)}),"
        for i in result["inputs"]
    ]
    output = result["outputs"][0]["name"]
    return [
        "Python (`pip install tensorflow`):",
        "```python",
        "import numpy as np",
        "import tensorflow as tf",
        "",
        'serve = tf.saved_model.load("saved_model").signatures["serving_default"]',
        "inputs = {",
        *feed,
        "}",
        f"print(serve(**inputs)[{output!r}].numpy())",
        "```",
        "",
    ]


def _kotlin_array(shape: list[int], text: bool) -> str:
    dims = [1 if d in (-1, None) else d for d in shape]
    inner = f'Array({dims[-1]}) {{ "" }}' if text else f"FloatArray({dims[-1]})"
    for size in reversed(dims[:-1]):
        inner = f"Array({size}) {{ {inner} }}"
    return inner


def kotlin(result: dict[str, Any]) -> list[str]:
    """Android: the LiteRT (TensorFlow Lite) Interpreter's named signature call."""
    feed = [
        f'    "{i["name"]}" to {_kotlin_array(i["shape"], "string" in i["dtype"])},'
        for i in result["inputs"]
    ]
    output = result["outputs"][0]
    return [
        'Android, Kotlin (`implementation("com.google.ai.edge.litert:litert:1.4.0")`, '
        "model.tflite in assets):",
        "```kotlin",
        "val interpreter = Interpreter(FileUtil.loadMappedFile(context, "
        '"model.tflite"))',
        "val inputs = mapOf<String, Any>(",
        *feed,
        ")",
        f"val output = {_kotlin_array(output['shape'], False)}  "
        f"// {_shape(output['shape'])}",
        f'interpreter.runSignature(inputs, mapOf("{output["name"]}" to output))',
        "```",
        "",
    ]


def swift(result: dict[str, Any]) -> list[str]:
    """iOS: TensorFlowLiteSwift feeds inputs by index, in the file's tensor order."""
    order = result.get("tensor_order", [])
    lines = []
    for spec in result["inputs"]:
        index = _tensor_index(order, spec["name"])
        count = int(np.prod([1 if d in (-1, None) else d for d in spec["shape"]]))
        variable = f"input{index}"
        lines += [
            f"// `{spec['name']}`: {_shape(spec['shape'])} {spec['dtype']}",
            f"let {variable} = [Float32](repeating: 0, count: {count})",
            f"try interpreter.copy({variable}.withUnsafeBufferPointer "
            f"{{ Data(buffer: $0) }}, toInputAt: {index})",
        ]
    output = result["outputs"][0]
    text = any("string" in i["dtype"] for i in result["inputs"])
    return [
        "iOS, Swift (`pod 'TensorFlowLiteSwift'`, model.tflite in the app bundle"
        + (
            "; text inputs must be written in TensorFlow Lite's string-tensor format, "
            "so prefer Kotlin or Python for this model" * text
        )
        + "):",
        "```swift",
        "import TensorFlowLite",
        'let path = Bundle.main.path(forResource: "model", ofType: "tflite")!',
        "let interpreter = try Interpreter(modelPath: path)",
        "try interpreter.allocateTensors()",
        *lines,
        "try interpreter.invoke()",
        f"// `{output['name']}`: {_shape(output['shape'])}",
        "let output = try interpreter.output(at: 0).data.withUnsafeBytes "
        "{ Array($0.bindMemory(to: Float32.self)) }",
        "```",
        "",
    ]


def _tensor_index(order: list[str], name: str) -> int:
    """The position of a signature input among the file's input tensors."""
    names = (name, f"serving_default_{name}:0")
    return next((i for i, tensor in enumerate(order) if tensor in names), 0)


SNIPPETS = {
    "tflite": python_tflite,
    "onnx": python_onnx,
    "savedmodel": python_savedmodel,
}
