"""Benchmark: the references before and after tuning on the validation rows (issue 22).

Run from the repository root:

    PYTHONPATH=. python -m bench.references [--seeds 1 2 3] [--only NAME ...]

For every real table of `bench.tables` and the two text sets of `bench.text` (with
../shared/data), and every seed, it splits the rows as a run does and scores on the test
rows, side by side: the reference as it was (HistGradientBoosting with the library's
defaults; TF-IDF + logistic regression with C=1) and as the app now fits it (a fixed
portfolio stopped and picked on the validation rows; C picked on the validation texts).
A paired bootstrap over the pooled test rows of all seeds says whether the tuned one
differs beyond noise. No network is trained; the user's workspace is never touched.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from typing import Any

import numpy as np
import pandas as pd

from bench.tables import SEEDS, TABLES, paired_bootstrap
from bench.text import FULL_DATASETS


def table_rows(table: Any, seed: int) -> dict[str, Any]:
    """Per-row test scores (right 1/0, or absolute error) of both table references."""
    from threadpoolctl import threadpool_limits

    from core.catalog import get_template
    from core.tables import report
    from core.templates.params import resolve_params

    template = get_template(table.template)
    params = resolve_params(template, {"seed": seed})
    prepared = template.prepare(table.load(), table.target, params, seed)
    classify = template.task == "classification"
    estimator = (
        report.HistGradientBoostingClassifier
        if classify
        else report.HistGradientBoostingRegressor
    )
    frame = report._reference_frame(prepared, prepared.test)
    y = prepared.test.targets
    started = time.perf_counter()
    default = estimator(categorical_features="from_dtype", random_state=seed)
    with threadpool_limits(1):  # as the app fits it
        default.fit(
            report._reference_frame(prepared, prepared.train), prepared.train.targets
        )
    models = {"before": (default, time.perf_counter() - started)}
    models["after"] = report._reference(prepared, estimator, seed)
    rows, seconds = {}, {}
    for name, (model, seconds[name]) in models.items():
        out = model.predict(frame)
        rows[name] = (out == y) if classify else np.abs(out - y)
    return {"rows": rows, "seconds": seconds, "higher_is_better": classify}


def text_rows(path: Any, target: str, seed: int) -> dict[str, Any]:
    """Right/wrong per test text of the TF-IDF reference with C=1 and with C tuned."""
    from core.catalog import get_template
    from core.templates.params import resolve_params
    from core.text import report

    template = get_template("text_classification")
    params = resolve_params(template, {"seed": seed})
    frame = pd.read_csv(path)
    prepared = template.prepare(frame, target, params, seed)
    arch = prepared.info["architecture"]
    train, val, test = prepared.train, prepared.val, prepared.test
    texts = train.raw["text"].tolist()
    validation = (val.raw["text"].tolist(), np.asarray(val.targets))
    rows, seconds = {}, {}
    for name, given in (("before", None), ("after", validation)):
        model, seconds[name] = report.fit_reference(
            texts, train.targets, arch, seed, validation=given
        )
        rows[name] = model.predict(test.raw["text"].tolist()) == np.asarray(
            test.targets
        )
    return {"rows": rows, "seconds": seconds, "higher_is_better": True}


def summarize(name: str, results: list[dict[str, Any]]) -> str:
    """One Markdown row: mean test score before/after, the gain's interval, seconds."""
    before = np.concatenate([r["rows"]["before"] for r in results]).astype(float)
    after = np.concatenate([r["rows"]["after"] for r in results]).astype(float)
    low, high = paired_bootstrap(after - before)
    better = results[0]["higher_is_better"]
    gain = "tuned better" if (low > 0 if better else high < 0) else "within noise"
    if high < 0 if better else low > 0:
        gain = "tuned worse"
    secs = {k: np.mean([r["seconds"][k] for r in results]) for k in ("before", "after")}
    unit = "accuracy" if better else "MAE"
    return (
        f"| {name} | {unit} | {before.mean():.4g} | {after.mean():.4g} | "
        f"{low:+.4g} to {high:+.4g} | {gain} | {secs['before']:.2f} / "
        f"{secs['after']:.2f} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.references", description=__doc__
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--only", nargs="+", help="names of the data sets to run")
    args = parser.parse_args(argv)
    os.environ["PREDICTIVE_STUDIO_WORKSPACE"] = tempfile.mkdtemp(prefix="bench-ref-")
    print(
        "| data | score | reference before | after (tuned on validation) | gain, "
        "95% over test rows | verdict | fit seconds before / after |"
    )
    print("|---|---|---|---|---|---|---|")
    jobs = [(t.name, lambda s, t=t: table_rows(t, s)) for t in TABLES]
    jobs += [
        (name, lambda s, p=path, c=target: text_rows(p, c, s))
        for name, (path, target) in FULL_DATASETS.items()
        if path.is_file()
    ]
    for name, rows_for in jobs:
        if args.only and name not in args.only:
            continue
        started = time.perf_counter()
        results = [rows_for(seed) for seed in args.seeds]
        print(
            summarize(name, results), f"<!-- {time.perf_counter() - started:.0f} s -->"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
