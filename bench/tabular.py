"""Benchmark: both table templates on the bundled samples, next to their references.

Run from the repository root:

    PYTHONPATH=. python -m bench.tabular [--quick] [--json]

For each sample it times our pipeline (`core.training.train_run` end to end, and the
`fit_model` call alone), a bare `model.fit` of the same network on the same data (the
same tf.data pipeline: the overhead ratio is our callbacks' cost; and plain Keras on the
arrays, which our pipeline beats), and reads the baseline and the HistGradientBoosting
reference from the run's evaluation.
It then times the Streamlit app: the first page after server start, and reruns of the
results page in a server that has TensorFlow loaded, with and without `gc.freeze()`.
Everything runs in a temporary workspace; the user's workspace is never touched.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS_FILE = ROOT / "bench" / "results" / "latest.json"
SAMPLES = (
    ("heart.csv", "target", "tabular_classification", "accuracy"),
    ("auto_mpg.csv", "mpg", "tabular_regression", "mae"),
)
MAX_OVERHEAD = 1.1
FIT_REFERENCE_FACTOR = 3.0
FIT_FLOOR_S = 5.0
RERUN_TARGET_MS = 100.0
FIRST_PAGE_TARGET_S = 3.0
SERVER_START_TIMEOUT_S = 60.0
RESULTS_PAGE = "pages/results.py"
BUSY_LOAD_SHARE = 0.5


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parses the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.tabular", description=__doc__
    )
    parser.add_argument(
        "--quick", action="store_true", help="one repeat per timing instead of two"
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help=f"also write {RESULTS_FILE.relative_to(ROOT)}",
    )
    return parser.parse_args(argv)


# --- machine -------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    """Returns CPU count, versions and the device Keras trains on."""
    import keras
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "device": f"GPU x{len(gpus)}" if gpus else "CPU",
        "platform": platform.platform(terse=True),
    }


def cold_import_seconds() -> float:
    """Times `import core.training` (TF + Keras) in a fresh process, as a worker pays it."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", "import core.training"],
        cwd=ROOT,
        env=_child_env(),
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def _child_env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3")
    return env


# --- tabular -------------------------------------------------------------------------


def prepare_sample(file_name: str, target: str, template_name: str) -> dict[str, Any]:
    """Stores a sample, creates its run and prepares its arrays as `_train` does."""
    from core import datasets, runs
    from core.catalog import get_template
    from core.templates.params import resolve_params

    dataset_id = datasets.store_sample(file_name)
    spec = runs.RunSpec(template_name, dataset_id, target, {}, dataset_name=file_name)
    template = get_template(template_name)
    params = resolve_params(template, spec.params)
    frame = datasets.load_table(dataset_id)
    prepared = template.prepare(frame, target, params, int(params["seed"]))
    return {"spec": spec, "template": template, "params": params, "prepared": prepared}


def fresh_model(case: dict[str, Any]) -> Any:
    """Builds the run's network from scratch with the run's seed."""
    import keras

    keras.utils.set_random_seed(int(case["params"]["seed"]))
    return case["template"].build_model(case["prepared"], case["params"])


def time_train_run(case: dict[str, Any]) -> dict[str, Any]:
    """Times `train_run` end to end and reads epochs and the evaluation it wrote."""
    from core import runs, training

    run_id = runs.create_run(case["spec"])
    started = time.perf_counter()
    state = training.train_run(run_id)
    total = time.perf_counter() - started
    if state != "completed":
        raise RuntimeError(
            f"run {run_id} ended {state}: {runs.read_status(run_id).error}"
        )
    return {
        "total_s": total,
        "epochs": len(runs.read_metrics(run_id)),
        "evaluation": runs.read_evaluation(run_id),
    }


def time_our_fit(case: dict[str, Any], run_id: str) -> tuple[float, int]:
    """Times `core.training.fit_model` on a fresh model; returns seconds and epochs."""
    from core import training

    model = fresh_model(case)
    started = time.perf_counter()
    history = training.fit_model(run_id, model, case["prepared"], case["params"])
    return time.perf_counter() - started, len(history.history["loss"])


def time_bare_fit(case: dict[str, Any], epochs: int, pipeline: bool = True) -> float:
    """Times a plain `model.fit` of the same network: no callbacks, fixed epochs.

    With `pipeline`, it gets the same tf.data pipeline ours uses (so the ratio is our
    callbacks' and bookkeeping's cost); without, the arrays themselves (plain Keras).
    """
    from core.training import as_dataset

    prepared, params = case["prepared"], case["params"]
    batch_size = int(params["batch_size"])
    model = fresh_model(case)
    if pipeline:
        train = as_dataset(prepared.train, batch_size, shuffle_seed=0)
        data = {"x": train, "validation_data": as_dataset(prepared.val, batch_size)}
    else:
        data = {
            "x": prepared.train.inputs,
            "y": prepared.train.targets,
            "validation_data": (prepared.val.inputs, prepared.val.targets),
            "batch_size": batch_size,
        }
    started = time.perf_counter()
    model.fit(
        **data,
        epochs=epochs,
        class_weight=prepared.class_weight,
        verbose=0,
        shuffle=not pipeline,
    )
    return time.perf_counter() - started


def time_fits(case: dict[str, Any], repeats: int) -> dict[str, Any]:
    """Interleaves our fit and the bare fit `repeats` times; keeps the fastest of each."""
    from core import runs

    run_id = runs.create_run(case["spec"])  # a scratch run for RunDirLogger's files
    ours, bare, arrays, epochs = [], [], [], []
    try:
        for _ in range(repeats):
            seconds, ran = time_our_fit(case, run_id)
            ours.append(seconds)
            epochs.append(ran)
            bare.append(time_bare_fit(case, ran))
            arrays.append(time_bare_fit(case, ran, pipeline=False))
    finally:
        # An active run queues every later run behind it (`wait_for_turn`).
        runs.write_status(run_id, state="stopped", message="benchmark scratch run")
    return {
        "fit_s": min(ours),
        "bare_fit_s": min(bare),
        "arrays_fit_s": min(arrays),
        "fit_epochs": epochs,
    }


def warm_up(case: dict[str, Any]) -> None:
    """Runs TF once (graph tracing, thread pools) so the first timing is not a cold one."""
    time_bare_fit(case, epochs=2)


def bench_sample(sample: tuple[str, str, str, str], repeats: int) -> dict[str, Any]:
    """Benchmarks one sample and returns its row of results."""
    file_name, target, template_name, metric = sample
    case = prepare_sample(file_name, target, template_name)
    run = time_train_run(case)
    fits = time_fits(case, repeats)
    report = run["evaluation"]
    row = {
        "dataset": file_name,
        "template": template_name,
        "rows": int(case["prepared"].info["n_rows"]),
        "metric": metric,
        "total_s": run["total_s"],
        "epochs": run["epochs"],
        "ours": report["metrics"][metric],
        "baseline": report["baseline"][metric],
        "reference": report["reference"][metric],
        "reference_fit_s": report["reference_fit_seconds"],
        **fits,
    }
    return {**row, **check_targets(row)}


def check_targets(row: dict[str, Any]) -> dict[str, Any]:
    """Returns the overhead ratio, the fit-time limit and whether each target is met."""
    overhead = row["fit_s"] / row["bare_fit_s"]
    fit_limit = max(FIT_REFERENCE_FACTOR * row["reference_fit_s"], FIT_FLOOR_S)
    return {
        "overhead": overhead,
        "fit_limit_s": fit_limit,
        "overhead_ok": overhead <= MAX_OVERHEAD,
        "fit_ok": row["rows"] > 10_000 or row["fit_s"] <= fit_limit,
    }


# --- Streamlit pages -----------------------------------------------------------------


def missing_pages() -> list[str]:
    """Returns app.py (if absent) or the page files it names that do not exist yet."""
    app = ROOT / "app.py"
    if not app.is_file():
        return ["app.py"]
    named = re.findall(r"""st\.Page\(\s*["']([^"']+)["']""", app.read_text())
    return [page for page in named if not (ROOT / page).is_file()]


def free_port() -> int:
    """Returns a TCP port that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int, preload_tf: bool, freeze: bool) -> subprocess.Popen:
    """Starts `streamlit run app.py`, optionally in a process that imported TF first."""
    flags = [
        "--server.headless=true",
        f"--server.port={port}",
        "--server.address=127.0.0.1",
        "--browser.gatherUsageStats=false",
        "--server.fileWatcherType=none",
    ]
    argv = ["streamlit", "run", "app.py", *flags]
    preload = "import keras, tensorflow\n" if preload_tf else ""
    preload += "import gc\ngc.freeze()\n" if freeze else ""
    code = f"{preload}import sys\nfrom streamlit.web.cli import main\nsys.argv = {argv!r}\nmain()\n"
    return subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=_child_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def wait_healthy(port: int, server: subprocess.Popen) -> None:
    """Polls /_stcore/health until it answers 200.

    Raises:
        RuntimeError: if the server exits or does not answer in time.
    """
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    url = f"http://127.0.0.1:{port}/_stcore/health"
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {server.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"streamlit did not answer {url} in {SERVER_START_TIMEOUT_S} s")


def run_page(ws: Any, page: str = "") -> tuple[float, list[str]]:
    """Asks the server to run `page` (url path; "" = default) and waits for it to finish.

    Returns:
        Seconds from request to `script_finished`, and any exception messages shown.
    """
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    request = BackMsg()
    request.rerun_script.page_name = page
    started = time.perf_counter()
    ws.send(request.SerializeToString())
    errors = []
    while True:
        msg = ForwardMsg()
        msg.ParseFromString(ws.recv(timeout=SERVER_START_TIMEOUT_S))
        field = msg.WhichOneof("type")
        if field == "script_finished":
            return time.perf_counter() - started, errors
        if field == "delta" and msg.delta.new_element.WhichOneof("type") == "exception":
            errors.append(msg.delta.new_element.exception.message)


def tf_loaded(pid: int) -> bool | None:
    """Tells whether a process has TensorFlow's shared library mapped (None: unknown)."""
    try:
        return "libtensorflow" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return None


def stop_server(server: subprocess.Popen) -> None:
    """Stops a server this benchmark started."""
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def first_page() -> dict[str, Any]:
    """Times a fresh server: until healthy, then until the first page has run."""
    from websockets.sync.client import connect

    port = free_port()
    started = time.perf_counter()
    server = start_server(port, preload_tf=False, freeze=False)
    try:
        wait_healthy(port, server)
        healthy = time.perf_counter() - started
        with connect(
            f"ws://127.0.0.1:{port}/_stcore/stream", subprotocols=["streamlit"]
        ) as ws:
            _, errors = run_page(ws)
            rendered = time.perf_counter() - started
        return {
            "healthy_s": healthy,
            "first_page_s": rendered,
            "errors": errors,
            "tf_loaded": tf_loaded(server.pid),
            "ok": rendered <= FIRST_PAGE_TARGET_S and not errors,
        }
    finally:
        stop_server(server)


def page_reruns(freeze: bool, reruns: int) -> dict[str, Any]:
    """Times back-to-back reruns of the results page in a server with TF imported.

    Streamlit collects garbage after each run, after it has told the browser the run
    finished; back-to-back reruns include that cost, as a user clicking again does.
    """
    from websockets.sync.client import connect

    port = free_port()
    server = start_server(port, preload_tf=True, freeze=freeze)
    try:
        wait_healthy(port, server)
        with connect(
            f"ws://127.0.0.1:{port}/_stcore/stream", subprotocols=["streamlit"]
        ) as ws:
            run_page(ws, "results")  # first run: imports and caches
            timed = [run_page(ws, "results") for _ in range(reruns)]
        mean_ms = 1000 * sum(t for t, _ in timed) / reruns
        errors = sorted({e for _, found in timed for e in found})
        return {"mean_ms": mean_ms, "errors": errors, "ok": mean_ms <= RERUN_TARGET_MS}
    finally:
        stop_server(server)


def bench_pages(reruns: int) -> dict[str, Any]:
    """Runs the page timings, or says why they are skipped."""
    missing = missing_pages()
    if missing:
        return {"skipped": f"not written yet: {', '.join(missing)}"}
    if not (ROOT / RESULTS_PAGE).is_file():
        return {"skipped": f"{RESULTS_PAGE} is not written yet"}
    try:
        import websockets.sync.client  # noqa: F401  installed with streamlit
    except ImportError:
        return {"skipped": "the `websockets` package is not installed"}
    return {
        "first": first_page(),
        "rerun_plain": page_reruns(freeze=False, reruns=reruns),
        "rerun_frozen": page_reruns(freeze=True, reruns=reruns),
    }


# --- report --------------------------------------------------------------------------

HEADER = (
    "dataset",
    "template",
    "fit s",
    "total s",
    "epochs",
    "metric",
    "baseline",
    "ref fit s",
    "ref metric",
    "bare fit s",
    "overhead",
    "arrays fit s",
    "targets",
)


def table_cells(row: dict[str, Any]) -> tuple[str, ...]:
    """Formats one result row for the printed table."""
    missed = [
        name
        for name, ok in (("overhead", row["overhead_ok"]), ("fit time", row["fit_ok"]))
        if not ok
    ]
    return (
        row["dataset"],
        row["template"],
        f"{row['fit_s']:.2f}",
        f"{row['total_s']:.2f}",
        str(row["epochs"]),
        f"{row['metric']} {row['ours']:.3f}",
        f"{row['baseline']:.3f}",
        f"{row['reference_fit_s']:.2f}",
        f"{row['reference']:.3f}",
        f"{row['bare_fit_s']:.2f}",
        f"{row['overhead']:.2f}x",
        f"{row['arrays_fit_s']:.2f}",
        "met" if not missed else "MISSED: " + ", ".join(missed),
    )


def format_table(rows: list[tuple[str, ...]]) -> str:
    """Returns rows as a left-aligned text table with a header rule."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def page_lines(pages: dict[str, Any]) -> list[str]:
    """Formats the page timings (or the reason they were skipped)."""
    if "skipped" in pages:
        return [f"pages: skipped ({pages['skipped']})"]
    first, plain, frozen = pages["first"], pages["rerun_plain"], pages["rerun_frozen"]
    return [
        f"first page: server healthy {first['healthy_s']:.2f} s, first page run "
        f"{first['first_page_s']:.2f} s (target <= {FIRST_PAGE_TARGET_S:.0f} s: "
        f"{_verdict(first['ok'])}); TensorFlow loaded by it: {first['tf_loaded']}"
        + _errors(first["errors"]),
        f"results page rerun, TF loaded (target <= {RERUN_TARGET_MS:.0f} ms): "
        f"{plain['mean_ms']:.0f} ms without gc.freeze() ({_verdict(plain['ok'])}), "
        f"{frozen['mean_ms']:.0f} ms with it ({_verdict(frozen['ok'])})"
        + _errors(plain["errors"] + frozen["errors"]),
    ]


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def _errors(errors: list[str]) -> str:
    return f"; page raised: {errors[0][:120]!r}" if errors else ""


def print_report(results: dict[str, Any]) -> None:
    """Prints the machine line, the table, the per-row notes and the page timings."""
    m = results["machine"]
    print(
        f"machine: {m['cpus']} CPUs, {m['device']}, Python {m['python']}, "
        f"TensorFlow {m['tensorflow']}, Keras {m['keras']}, {m['platform']}; "
        f"cold `import core.training`: {results['cold_import_s']:.2f} s"
    )
    if m["load_before"] > BUSY_LOAD_SHARE * (m["cpus"] or 1):
        print(
            f"note: the machine was busy (load {m['load_before']:.1f} on {m['cpus']} "
            "CPUs) when the benchmark started; timings are inflated and noisier."
        )
    print()
    print(format_table([HEADER] + [table_cells(r) for r in results["tabular"]]))
    print()
    for row in results["tabular"]:
        print(
            f"{row['dataset']}: fit limit {row['fit_limit_s']:.1f} s, "
            f"{1000 * row['fit_s'] / row['fit_epochs'][0]:.0f} ms/epoch ours, "
            f"{1000 * row['bare_fit_s'] / row['fit_epochs'][0]:.0f} ms/epoch bare, "
            f"{1000 * row['arrays_fit_s'] / row['fit_epochs'][0]:.0f} ms/epoch plain "
            "Keras on arrays; "
            f"epochs per timed fit {row['fit_epochs']}"
        )
    print(f"repeats: {results['repeats']} (min taken); lower mae is better")
    for line in page_lines(results["pages"]):
        print(line)
    print(f"total benchmark time: {results['bench_s']:.0f} s")


def write_json(results: dict[str, Any]) -> None:
    """Writes the results to bench/results/latest.json."""
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_FILE.write_text(json.dumps(results, indent=2, default=str))
    print(f"wrote {RESULTS_FILE.relative_to(ROOT)}")


def run_benchmark(quick: bool) -> dict[str, Any]:
    """Runs every measurement and returns the results as a JSON-ready dict."""
    started = time.perf_counter()
    repeats = 1 if quick else 2
    load_before = os.getloadavg()[0]  # before our own work raises it
    results: dict[str, Any] = {
        "repeats": repeats,
        "cold_import_s": cold_import_seconds(),
    }
    results["machine"] = {**machine_info(), "load_before": load_before}
    warm_up(prepare_sample(*SAMPLES[0][:3]))
    results["tabular"] = [bench_sample(sample, repeats) for sample in SAMPLES]
    results["pages"] = bench_pages(reruns=3 if quick else 5)
    results["bench_s"] = time.perf_counter() - started
    return results


def main(argv: list[str] | None = None) -> int:
    """Entry point: `python -m bench.tabular [--quick] [--json]`."""
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with tempfile.TemporaryDirectory(prefix="predictive-studio-bench-") as workspace:
        os.environ["PREDICTIVE_STUDIO_WORKSPACE"] = workspace
        results = run_benchmark(args.quick)
    print_report(results)
    if args.json:
        write_json(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
