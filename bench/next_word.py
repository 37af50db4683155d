"""Benchmark: next-word suggestion on the bundled Alice in Wonderland text.

Run from the repository root:

    PYTHONPATH=. python -m bench.next_word [--quick] [--json]

Reports, in one run:
- held-out (last 10% of the text) top-1/top-5 accuracy and perplexity of the model
  trained with the default parameters, beside the n-gram and frequent-word baselines,
  and the training time at which the model's held-out top-5 first beat the n-gram's
  (scored after every epoch);
- per-keystroke suggestion latency with the saved model (warm, p50/p95; target p95
  <= 50 ms on 2 CPUs), typing phrases one character at a time;
- peak memory of preparing and training one epoch on a 10 MB corpus (Alice's
  paragraphs shuffled and repeated), windows streamed, beside what the windows would
  take if they were materialised.
Everything runs in a temporary workspace; the user's workspace is never touched.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS_FILE = ROOT / "bench" / "results" / "next_word.json"
ALICE = ROOT / "sample_data" / "alice_in_wonderland.txt"
PHRASES = ("alice was beginning to get", "the queen said", "off with her head")
LATENCY_TARGET_MS = 50
BIG_CORPUS_BYTES = 10_000_000
BIG_STEPS = 40


def scored_training(epochs: int | None) -> dict[str, Any]:
    """Trains with the default parameters, scoring the held-out text after each epoch."""
    import keras

    from core import training
    from core.catalog import get_template
    from core.corpus import ingest
    from core.corpus.model import score_model
    from core.corpus.ngram import NGram, Scores
    from core.corpus.report import corpus_report
    from core.templates.params import resolve_params

    template = get_template("next_word")
    params = resolve_params(template, {} if epochs is None else {"epochs": epochs})
    corpus = ingest.load_corpus(ingest.store_sample())
    keras.utils.set_random_seed(int(params["seed"]))
    prepared = template.prepare(corpus, None, params, int(params["seed"]))
    info, test = prepared.info, prepared.test.inputs
    size = len(info["words"]) + 3
    ngram_top5 = Scores(*_ngram(NGram(prepared.train.raw, size), test)).summary()
    model = template.build_model(prepared, params)
    curve: list[dict[str, float]] = []
    started = time.perf_counter()

    class HeldOut(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            found = score_model(self.model, test, info["words"], info["context"])
            top5 = Scores(*found).summary()["top5_accuracy"]
            curve.append({"seconds": time.perf_counter() - started, "top5": top5})

    fit = model.fit(
        training.as_dataset(prepared.train, 0),
        validation_data=training.as_dataset(prepared.val, 0),
        epochs=int(params["epochs"]),
        callbacks=[
            keras.callbacks.EarlyStopping(
                patience=int(params["patience"]), restore_best_weights=True
            ),
            training.TimeBudget(float(params["time_budget_s"])),
            HeldOut(),
        ],
        verbose=0,
    )
    template.calibrate(model, prepared, params)  # the n-gram's share, on validation
    report = corpus_report(model, prepared, int(params["seed"]))
    beat = next(
        (c["seconds"] for c in curve if c["top5"] > ngram_top5["top5_accuracy"]), None
    )
    return {
        "epochs_run": len(fit.history["loss"]),
        "train_seconds_with_scoring": round(time.perf_counter() - started, 1),
        "seconds_to_beat_ngram_top5": None if beat is None else round(beat, 1),
        "metrics": report["metrics"],
        "ngram": report["baseline"],
        "frequent": report["baselines"]["most frequent words"],
        "verdict": report["verdict"]["headline"],
        "n_test": report["n_test"],
        "model": model,
    }


def _ngram(ngram: Any, test: list) -> tuple[Any, Any]:
    scores = ngram.score(test)
    return scores.rank, scores.proba


def keystroke_latency(model: Any) -> dict[str, float]:
    """Suggestions after each typed character, with the app's compiled model."""
    from core.corpus import bundle
    from core.corpus.model import FastModel

    fast = FastModel(model)
    bundle.suggest(fast, "warm up")
    times = []
    for phrase in PHRASES:
        for end in range(1, len(phrase) + 1):
            started = time.perf_counter()
            bundle.suggest(fast, phrase[:end])
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {
        "keystrokes": len(times),
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(times[int(0.95 * (len(times) - 1))], 2),
        "target_p95_ms": LATENCY_TARGET_MS,
    }


def big_corpus(path: Path) -> None:
    """About 10 MB of text: Alice's paragraphs, shuffled, repeated."""
    paragraphs = ALICE.read_text(encoding="utf-8-sig").split("\n\n")
    rng, chunks, size = random.Random(0), [], 0
    while size < BIG_CORPUS_BYTES:
        rng.shuffle(paragraphs)
        chunk = "\n\n".join(paragraphs)
        chunks.append(chunk)
        size += len(chunk.encode())
    path.write_text("\n\n".join(chunks))


def memory_child(path: str) -> None:
    """In a fresh process: store, prepare and train a few steps; print peak memory."""
    from core.catalog import get_template
    from core.corpus import ingest
    from core.corpus.model import window_starts
    from core.templates.params import resolve_params

    template = get_template("next_word")
    params = resolve_params(template, {})
    corpus = ingest.load_corpus(ingest.store_path(Path(path)))
    prepared = template.prepare(corpus, None, params, 0)
    model = template.build_model(prepared, params)
    started = time.perf_counter()
    model.fit(prepared.train.inputs.take(BIG_STEPS), epochs=1, verbose=0)
    seconds = time.perf_counter() - started
    _, starts, _ = window_starts(prepared.train.raw, prepared.info["context"])
    windows_mb = len(starts) * (prepared.info["context"] + 1) * 4 * 2 / 1e6
    print(
        json.dumps(
            {
                "corpus_mb": round(Path(path).stat().st_size / 1e6, 1),
                "train_words": prepared.info["n_train"],
                "vocabulary": len(prepared.info["words"]),
                "network": prepared.info["model_note"],
                "peak_rss_mb": round(
                    resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                ),
                "materialised_windows_mb": round(windows_mb),
                "seconds_per_step": round(seconds / BIG_STEPS, 3),
            }
        )
    )


def memory_10mb(folder: Path) -> dict[str, Any]:
    path = folder / "big.txt"
    big_corpus(path)
    command = [sys.executable, "-m", "bench.next_word", "--memory-child", str(path)]
    result = subprocess.run(
        command, capture_output=True, text=True, cwd=ROOT, timeout=1800, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 epochs, no 10 MB run")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PREDICTIVE_STUDIO_WORKSPACE"] = str(Path(tmp) / "workspace")
        if args.memory_child:
            memory_child(args.memory_child)
            return 0
        result = scored_training(3 if args.quick else None)
        result["latency"] = keystroke_latency(result.pop("model"))
        if not args.quick:
            result["memory_10mb"] = memory_10mb(Path(tmp))
    RESULTS_FILE.parent.mkdir(exist_ok=True)
    RESULTS_FILE.write_text(json.dumps(result, indent=2))
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
