"""Headless CLI with the same engine as the app.

python -m core train DATA.csv|.xlsx|.xls|.ods|.parquet|.jsonl|IMAGES.zip|FOLDER [--target COL]
                              [--sheet NAME] [--template NAME] [--epochs N | --time-budget S]
                              [--seed N] [--zeros-as-missing COL] [--drop COL] [--json]
python -m core predict RUN_ID_OR_BUNDLE DATA.csv|IMAGE|FOLDER|VIDEO -o OUT.csv [--explain]
python -m core predict RUN_ID CLIP.mp4 --track [--find faces|motion] -o TRACKS.csv
                       [--annotated OUT.mp4]
python -m core runs [--json]
python -m core stop RUN_ID
python -m core delete RUN_ID
python -m core templates
python -m core export RUN_ID [--format bundle|savedmodel|tflite|onnx]
                      -o model.zip|model.keras|SAVEDMODEL_FOLDER|model.tflite|model.onnx
python -m core weights fetch [NAMES] | list | install FILE
python -m core threshold RUN_ID [VALUE | --cost-miss X --cost-alert Y] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from core import datasets, fixes, launch, runs, safe_csv, thresholds  # noqa: E402
from core.catalog import get_template, list_templates, suggest  # noqa: E402
from core.errors import (  # noqa: E402
    DataError,
    DecisionError,
    ExportError,
    RunError,
    TrainingFailed,
    UserError,
)
from core.templates.base import Template  # noqa: E402

USER_ERRORS = (UserError, OSError)
INTERRUPTED = 130  # the shell's exit status for Ctrl-C


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m core",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    _add_train_parser(commands)
    _add_predict_parser(commands)
    _add_run_parsers(commands)
    _add_export_parser(commands)
    _add_weights_parser(commands)
    _add_threshold_parser(commands)
    return parser


def _add_train_parser(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser("train", help="train a model on a CSV")
    train.add_argument("data", type=Path)
    train.add_argument("--target", help="column to predict (not needed for images)")
    train.add_argument("--template", help="default: suggested from the target column")
    train.add_argument(
        "--sheet", help="workbooks: the sheet to use (default: the first)"
    )
    budget = train.add_mutually_exclusive_group()
    budget.add_argument("--epochs", type=int)
    budget.add_argument("--time-budget", type=float, dest="time_budget_s")
    train.add_argument("--seed", type=int)
    train.add_argument("--time-column", dest="time_column", help="time series only")
    train.add_argument("--horizon", type=int, help="time series: steps to forecast")
    train.add_argument("--lookback", type=int, help="time series: steps the model sees")
    train.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="any template parameter, e.g. --param hidden_units=128,64",
    )
    train.add_argument(
        "--zeros-as-missing",
        action="append",
        default=[],
        metavar="COL",
        help="tables: treat 0 in this column as missing (repeat for more columns)",
    )
    train.add_argument(
        "--drop",
        action="append",
        default=[],
        metavar="COL",
        help="tables: leave this column out (repeat for more columns)",
    )
    train.add_argument("--json", action="store_true", help="print one JSON object")


def _add_predict_parser(commands: argparse._SubParsersAction) -> None:
    predict = commands.add_parser(
        "predict", help="score a CSV with a run or a bundle zip"
    )
    predict.add_argument("model", help="run id or path to a bundle .zip")
    predict.add_argument("data", type=Path)
    predict.add_argument("-o", "--output", type=Path, required=True)
    predict.add_argument(
        "--track",
        action="store_true",
        help="video: find, follow and label regions (one row per track per frame)",
    )
    predict.add_argument(
        "--find", choices=["faces", "motion"], default="faces", help="with --track"
    )
    predict.add_argument(
        "--annotated", type=Path, help="with --track: also write an annotated MP4"
    )
    predict.add_argument(
        "--explain",
        action="store_true",
        help="add `why`: the words that weighed most in each prediction (texts)",
    )


def _add_run_parsers(commands: argparse._SubParsersAction) -> None:
    """`runs`, `stop`, `delete` and `templates`: listing and managing runs."""
    listing = commands.add_parser("runs", help="list runs")
    listing.add_argument("--json", action="store_true")
    stop = commands.add_parser(
        "stop", help="stop a run after its current epoch, keeping the best model"
    )
    stop.add_argument("run_id")
    delete = commands.add_parser("delete", help="delete a finished or dead run")
    delete.add_argument("run_id")
    commands.add_parser("templates", help="list task templates")


def _add_export_parser(commands: argparse._SubParsersAction) -> None:
    export = commands.add_parser(
        "export", help="write a run's verified bundle (or another format)"
    )
    export.add_argument("run_id")
    export.add_argument(
        "--format",
        default="bundle",
        help="bundle (default), savedmodel, tflite or onnx; each is verified",
    )
    export.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        help="a .zip (model, card, metadata), or the model alone: .keras (bundle), "
        ".tflite, .onnx, or a folder for savedmodel",
    )


def _add_weights_parser(commands: argparse._SubParsersAction) -> None:
    weights = commands.add_parser(
        "weights",
        help="download pre-trained picture networks, or install a copied weights file",
    )
    weights.add_argument("action", choices=("fetch", "list", "install"))
    weights.add_argument(
        "names",
        nargs="*",
        help="fetch: networks (default: every one); install: weights files (.h5)",
    )


def _add_threshold_parser(commands: argparse._SubParsersAction) -> None:
    threshold = commands.add_parser(
        "threshold",
        help="show a yes/no or anomaly run's decision threshold, or save a new one",
    )
    threshold.add_argument("run_id")
    threshold.add_argument("value", type=float, nargs="?", help="the new threshold")
    threshold.add_argument("--cost-miss", type=float, help="what a missed case costs")
    threshold.add_argument("--cost-alert", type=float, help="what checking one costs")
    threshold.add_argument("--json", action="store_true")


def train(args: argparse.Namespace) -> int:
    """Trains in this process (after waiting for earlier runs) and reports test metrics."""
    if not args.data.exists():
        raise DataError(f"There is no file or folder `{args.data}`.")
    template, dataset_id = _template_and_dataset(args)
    run_id = launch.start_training(
        template.name,
        dataset_id,
        args.target,
        _param_overrides(args),
        launch_worker=False,
    )
    params = runs.load_spec(run_id)["params"]
    warnings = template.preflight(template.load_data(dataset_id), args.target, params)
    from core import training

    state = training.train_run(run_id)
    if runs.is_folder_gone(run_id):
        raise RunError(f"Run `{run_id}` was deleted while it trained.")
    if state == "failed":
        raise TrainingFailed(runs.read_status(run_id).error or runs.LOST_MESSAGE)
    if state == "stopped":
        print(f"Run {run_id} stopped. {_stopped_note(run_id)}", file=sys.stderr)
        return INTERRUPTED
    _print_train_result(args, run_id, template.name, warnings)
    return 0


def _template_and_dataset(args: argparse.Namespace) -> tuple[Template, str]:
    """The named template, or the one suggested for a table and its target column."""
    if args.template and args.sheet is None:
        template = get_template(args.template)
        return template, template.store_input(args.data)
    if args.template:  # a workbook's named sheet: a table for any table template
        dataset_id = _store_table(args)
        return get_template(args.template), dataset_id
    if not args.target:
        raise DataError(
            "Missing argument `--target`: name the column to predict, or give "
            "`--template` (e.g. `--template image_classification` for image folders)."
        )
    # Without a template, the input is a table: only tables are told apart by a target.
    dataset_id = _store_table(args)
    template, _ = suggest(datasets.load_table(dataset_id), args.target, "table")
    return template, dataset_id


def _store_table(args: argparse.Namespace) -> str:
    return datasets.store_upload(args.data.name, _read_input(args.data), args.sheet)


def _stopped_note(run_id: str) -> str:
    model = runs.run_dir(run_id) / runs.MODEL_FILE
    if model.is_file():
        return f"The best model so far was kept: {model}"
    return runs.read_status(run_id).message or "No model was kept."


def _param_overrides(args: argparse.Namespace) -> dict[str, Any]:
    names = ("epochs", "time_budget_s", "seed", "time_column", "horizon", "lookback")
    overrides = {k: getattr(args, k) for k in names if getattr(args, k) is not None}
    for item in args.param:
        name, _, value = item.partition("=")
        overrides[name.strip()] = json.loads(value) if _is_json(value) else value
    chosen = [
        {"fix": fix, "column": column}
        for fix, columns in (
            (fixes.ZEROS_AS_MISSING, getattr(args, "zeros_as_missing", [])),
            (fixes.DROP, getattr(args, "drop", [])),
        )
        for column in columns
    ]
    if chosen:  # added to any given with --param fixes=[...]
        given = overrides.get("fixes", [])
        overrides["fixes"] = [*(given if isinstance(given, list) else [given]), *chosen]
    return overrides


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _print_train_result(
    args: argparse.Namespace, run_id: str, template: str, warnings: list[str]
) -> None:
    report = runs.load_evaluation(run_id)
    result: dict[str, Any] = {
        "run_id": run_id,
        "template": template,
        "model_path": str(runs.run_dir(run_id) / runs.MODEL_FILE),
        "warnings": warnings,
        "verdict": report.get("verdict", {}),
        "metrics": report.get("metrics", {}),
        "baseline": report.get("baseline", {}),
        "reference": report.get("reference", {}),
        **({"baselines": report["baselines"]} if "baselines" in report else {}),
        "summary": report.get("summary", []),
        "headline_metric": report.get("headline_metric", ""),
        "fixes": runs.load_spec(run_id)["params"].get("fixes", []),
        "training": training_summary(runs.read_status(run_id)),
    }
    info = runs.load_info(run_id)
    if "decision" in info:
        result["decision"] = info["decision"]
        result["threshold"] = result["decision"]["threshold"]
    if args.json:
        print(json.dumps(result))
        return
    print(f"Run {run_id} ({template}) finished.")
    for line in fixes.asked_lines(result["fixes"]):
        print(line)
    if result["training"]["stopped"]:
        print(result["training"]["stopped"])
    for line in result["summary"] + [f"Warning: {w}" for w in warnings]:
        print(line)
    print(f"Model: {result['model_path']}")


def training_summary(status: runs.RunStatus) -> dict[str, Any]:
    """How the epochs went: how many ran, the best one, why they ended, how long it took."""
    ended = status.updated_at or 0.0
    return {
        "epochs_run": status.epoch,
        "max_epochs": status.epochs,
        "best_epoch": status.best_epoch,
        "stop_reason": status.stop_reason,
        "stopped": runs.stop_sentence(status),
        "time_budget_s": status.time_budget_s,
        "seconds": round(ended - (status.run_started_at or ended), 1),
    }


def predict(args: argparse.Namespace) -> int:
    """Scores a CSV with a run's model or an imported bundle and writes the result CSV."""
    from core import bundle_import, prediction

    run_id = args.model
    if args.model.endswith(".zip") or Path(args.model).is_file():
        bundle = Path(args.model)
        run_id = bundle_import.import_bundle(_read_input(bundle), bundle.name)
    if not args.data.exists():
        raise DataError(f"There is no file or folder `{args.data}`.")
    if args.track or args.annotated:
        return _predict_tracks(args, run_id)
    if args.explain:
        template = get_template(runs.load_spec(run_id)["template"])
        model, info = runs.load_model(run_id), runs.load_info(run_id)
        result, warnings = template.explain_file(model, args.data, info)
        for row in result.head(5).itertuples():
            print(f"{row.prediction}: {row.why}")
    else:
        result, warnings = prediction.predict_path(run_id, args.data)
    safe_csv.to_csv(result, args.output)
    for warning in warnings:
        print(f"Warning: {warning}", file=sys.stderr)
    print(f"Wrote {len(result)} predictions to {args.output}")
    return 0


def _predict_tracks(args: argparse.Namespace, run_id: str) -> int:
    from core.vision import tracking

    if not args.track:
        raise DataError("`--annotated` needs `--track`.")
    result = tracking.track_run_video(run_id, args.data, args.find, args.annotated)
    safe_csv.to_csv(result.rows, args.output)
    print(
        f"Followed {len(result.tracks)} tracks over {result.frames} frames "
        f"({result.speed_fps:.1f} frames/s); wrote {args.output}"
        + (f" and {args.annotated}" if args.annotated else "")
    )
    return 0


def list_runs(args: argparse.Namespace) -> int:
    """Prints every run, newest first."""
    rows = [runs.summarize_run(r) for r in runs.list_runs()]
    if args.json:
        print(json.dumps(rows))
        return 0
    for row in rows:
        value = "" if row["value"] is None else f"{row['metric']}={row['value']:.3f}"
        note = f"({row['problem']})" if row["problem"] else value
        print(f"{row['run_id']}  {row['state']:<9} {row['target'] or '':<12} {note}")
    return 0


def stop_run(args: argparse.Namespace) -> int:
    """Asks a run to stop; a run with no training process is marked stopped at once."""
    state = launch.stop(args.run_id)
    if state in runs.ACTIVE_STATES:
        print(f"Asked run {args.run_id} to stop after its current epoch.")
    else:
        print(f"Run {args.run_id} is {state}.")
    return 0


def delete_run(args: argparse.Namespace) -> int:
    """Deletes a run that is not training."""
    runs.delete_run(args.run_id)
    print(f"Deleted run {args.run_id}.")
    return 0


def list_template_names(args: argparse.Namespace) -> int:
    """Prints the registered templates."""
    for template in list_templates():
        print(f"{template.name:<26} {template.title}")
    return 0


def export_bundle(args: argparse.Namespace) -> int:
    """Builds the verified bundle (or another format) and writes what the output names."""
    from core import export, formats

    formats.check_output(args.format, args.output)
    if args.format != "bundle":
        return export_format(args)
    runs.load_spec(args.run_id)  # an unknown run is refused before anything is built
    record = export.ready_download(args.run_id)
    if record:
        print("Using the bundle prepared after training (already checked).")
    else:
        print("Preparing the bundle and checking it in a fresh process…")
        record = export.prepare_download(args.run_id, by="cli")
        if not record["ok"]:
            raise ExportError(record["message"])
    formats.write_output(args.run_id, "bundle", args.output)
    print(record["message"])
    print(f"Wrote {args.output}")
    return 0


def backbone_weights(args: argparse.Namespace) -> int:
    """Lists the pre-trained networks, downloads their weights into the Keras cache, or
    installs weights files copied here (checked against their published checksum)."""
    from core.vision import weights

    if args.action == "list":
        for name, path in weights.readiness().items():
            print(f"{name:<20} {path or 'not downloaded'}")
        return 0
    if args.action == "install":
        if not args.names:
            raise UserError("Give the weights file to install: `weights install FILE`.")
        for file in args.names:
            print(
                f"{file}: installed as {weights.install(None, Path(file).read_bytes())}"
            )
        return 0
    paths = weights.fetch_all(args.names or list(weights.BACKBONES), _show_progress)
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0


def _show_progress(name: str, done: int, total: int | None) -> None:
    share = f"{done / total:.0%}" if total else f"{done / 1e6:.1f} MB"
    print(f"\r{name}: {share}", end="", file=sys.stderr, flush=True)
    if total and done >= total:
        print(file=sys.stderr)


def export_format(args: argparse.Namespace) -> int:
    """Converts to SavedModel, TFLite or ONNX, verified in a fresh process, or refuses."""
    from core import formats

    result = formats.export_format(args.run_id, args.format)
    if not result["ok"]:
        raise ExportError(result["message"])
    formats.write_output(args.run_id, args.format, args.output)
    print(result["message"])
    if args.output.suffix.lower() == ".zip":
        for variant in result["variants"][1:]:
            print(formats.describe_variant(variant, result["keras"]["score"]))
    elif len(result["variants"]) > 1:
        print("The other precisions and the model card are in the .zip (-o NAME.zip).")
    print(f"Wrote {args.output}")
    return 0


def set_threshold(args: argparse.Namespace) -> int:
    """Saves a threshold (a value, or the lowest cost for two costs), then shows it.

    Prints what the threshold flags among the run's test rows, as the Threshold page does.
    """
    from core import decision

    report = decision.decision_report(args.run_id)
    costs = (args.cost_miss, args.cost_alert)
    value, set_by = args.value, "you"
    if value is None and None not in costs:
        value, set_by = _lowest_cost(report, *costs), "lowest cost"
    if value is not None:
        thresholds.save_threshold(
            args.run_id, value, set_by=set_by, cost_miss=costs[0], cost_alert=costs[1]
        )
    stored = runs.read_info(args.run_id)["decision"]
    counts = decision.counts_at(report["scores"], report["labels"], stored["threshold"])
    if None not in costs and report["labels"] is not None:
        counts["expected_cost"] = decision.expected_cost(counts, *costs)
    if args.json:
        print(json.dumps({"decision": stored, "test_rows": counts}))
        return 0
    print(f"Threshold {stored['threshold']:.4g} ({stored['set_by']}) on the test rows:")
    for key, count in counts.items():
        print(f"  {key}: {count if count is None else round(count, 4)}")
    return 0


def _lowest_cost(report: dict[str, Any], cost_miss: float, cost_alert: float) -> float:
    from core import decision

    if report["labels"] is None:
        raise DecisionError(
            "Costs need labelled rows: without them nobody knows which rows were missed."
        )
    return decision.cheapest_threshold(
        report["scores"], report["labels"], cost_miss, cost_alert
    )


def _read_input(path: Path) -> bytes:
    if not path.is_file():
        raise DataError(f"There is no file `{path}`.")
    return path.read_bytes()


COMMANDS = {
    "train": train,
    "predict": predict,
    "runs": list_runs,
    "stop": stop_run,
    "delete": delete_run,
    "templates": list_template_names,
    "export": export_bundle,
    "weights": backbone_weights,
    "threshold": set_threshold,
}


def main(argv: list[str] | None = None) -> int:
    """Runs one CLI command; user errors print one line and exit with status 1.

    Ctrl-C prints one line and exits with 130 (a training keeps its best model).
    """
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except USER_ERRORS as err:
        print(f"error: {' '.join(str(err).splitlines())}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Stopped.", file=sys.stderr)
        return INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
