"""Predicting with a run's model on raw inputs, and the check rows an export is compared with.

At the top of core: the run's template (from `core.catalog`) reads the inputs.
Keras is imported inside functions (through `core.runs.load_model`).
"""

from __future__ import annotations

import concurrent.futures.process  # noqa: F401  see warm_up
import concurrent.futures.thread  # noqa: F401
import gc
import logging
import threading
from pathlib import Path
from typing import Any

import pandas as pd

from core import runs, safe_csv
from core.catalog import get_template

CHECK_INPUT_DIR = "check_input"
CHECK_OUTPUTS_FILE = "check_outputs.csv"

logger = logging.getLogger(__name__)
_warm_up_lock = threading.Lock()
_warm_up_thread: threading.Thread | None = None


def warm_up() -> threading.Thread:
    """Imports Keras (and TensorFlow) in a background thread, once per process.

    The app calls it when it starts, so the first prediction does not wait seconds
    for the import. It touches no device: TensorFlow takes a GPU only when a model
    first runs. Calling it again returns the same (perhaps finished) thread.

    Returns:
        The thread doing the import; `join()` it to wait for the import.
    """
    global _warm_up_thread
    with _warm_up_lock:
        if _warm_up_thread is None:
            # Not a daemon: a process that exits mid-import (a short test run, a
            # server stopped at once) waits for it, as TensorFlow crashes otherwise.
            # Modules that add threading exit hooks are imported above: once the exit
            # has begun, they can no longer be imported.
            _warm_up_thread = threading.Thread(
                target=_import_keras, name="keras-warm-up", daemon=False
            )
            _warm_up_thread.start()
        return _warm_up_thread


def _import_keras() -> None:
    try:
        import keras  # noqa: F401  the import is the work
    except Exception:  # noqa: BLE001  the first prediction will raise it in full
        logger.exception("Importing Keras ahead of the first prediction failed.")
    else:
        # TensorFlow leaves about a million long-lived objects; without this every
        # garbage collection scans them, and each page takes most of a second more.
        gc.freeze()


def predict_frame(
    run_id: str, frame: pd.DataFrame, model: Any = None
) -> tuple[pd.DataFrame, list[str]]:
    """Scores raw table rows with a run's model.

    Args:
        run_id: a run of a table template, with a model.
        frame: raw rows with (at least) the model's input columns.
        model: the loaded model, if the caller has it cached.

    Returns:
        The rows with `prediction` (and `probability_<class>`) columns appended, and
        warnings in plain words (e.g. extra columns that were ignored).

    Raises:
        DataError: if input columns are missing or a number column holds words.
        RunError: if a file of the run is missing or damaged.
    """
    template = get_template(runs.load_spec(run_id)["template"])
    model = model if model is not None else runs.load_model(run_id)
    return template.predict_frame(model, frame, runs.load_info(run_id))


def predict_path(
    run_id: str, path: Path, model: Any = None
) -> tuple[pd.DataFrame, list]:
    """Scores a file or folder (as the template reads it) with a run's model.

    Returns:
        The predictions table and warnings in plain words.

    Raises:
        DataError: if the input does not fit the model.
        RunError: if a file of the run is missing or damaged.
    """
    template = get_template(runs.load_spec(run_id)["template"])
    model = model if model is not None else runs.load_model(run_id)
    return template.predict_file(model, path, runs.load_info(run_id))


def record_check(run_id: str, model: Any, prepared: Any) -> None:
    """Saves a few raw inputs and the live model's predictions, to verify exports later.

    The template writes inputs its bundle script accepts (a CSV, image files, ...) into
    the run's `check_input/` folder; its `predict_file` scores them with the live model.
    """
    template = get_template(runs.load_spec(run_id)["template"])
    folder = runs.run_dir(run_id) / CHECK_INPUT_DIR
    folder.mkdir(exist_ok=True)
    path = template.write_check_input(prepared, folder)
    outputs, _ = template.predict_file(model, path, dict(prepared.info))
    # Written as the bundle's predict.py writes it, so headers compare equal.
    safe_csv.to_csv(outputs, runs.run_dir(run_id) / CHECK_OUTPUTS_FILE)
    runs.write_json_atomic(folder / "input.json", {"name": path.name})


def rerecord_check(run_id: str) -> None:
    """Scores the recorded check inputs again with the run's current info.

    Called when the run's info changes what predictions say (a new decision
    threshold), so a later export is compared with what the app now predicts.
    A run without check inputs (an imported bundle) is left as it is.
    """
    folder = runs.run_dir(run_id)
    name = runs.read_json(folder / CHECK_INPUT_DIR / "input.json").get("name", "")
    if name:
        outputs, _ = predict_path(run_id, folder / CHECK_INPUT_DIR / name)
        safe_csv.to_csv(outputs, folder / CHECK_OUTPUTS_FILE)
