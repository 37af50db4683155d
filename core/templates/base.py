"""The template contract: the datasets a template prepares, its info and report, `Template`.

A template's parameters (`Param`, the training knobs, checking values) are in
`core.templates.params`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

import pandas as pd

from core import datasets, table_reading
from core.errors import TemplateError
from core.templates.checks import KeyChecks
from core.templates.params import TRAINING_PARAMS, Param


@dataclass(frozen=True)
class Split:
    """One part of the data: model inputs, targets and the raw rows they came from."""

    inputs: Any
    targets: Any
    raw: Any = None


class _SplitSizes(TypedDict):
    n_train: int
    n_val: int
    n_test: int


class Info(_SplitSizes, total=False):
    """What `prepare` learned about the data, written to the run's info.json.

    Every template records how many examples each split holds (`n_train`, `n_val`,
    `n_test`: the model card and the reports print them). The other keys are read by
    the engine where a template has them; a template adds its own (e.g. `window`), and
    its predict path reads those back.

    Two names in the run and bundle files keep the word "kind" for a column type, so
    runs and bundles made before still load: the key "kind" of each `schema` entry
    (info.json and a bundle's metadata.json, read by the standalone bundle scripts and
    `core.bundle_import`), and the run parameter `column_kinds` (spec.json and
    `--param column_kinds=...`: the column types the user chose). Everywhere else,
    "kind" means the kind of data.

    Attributes:
        n_train: examples the model learned from.
        n_val: examples that decided when to stop.
        n_test: examples kept aside for the test report.
        task: the template's task, e.g. "classification".
        target: the column the model predicts.
        class_names: the classes, in the order of the model's outputs.
        schema: one entry per input column: name, kind (its column type), default,
            range or choices.
        decision: the threshold that turns a score into a flag (`core.decision`).
        data_kind: the kind of data, added by training (the template's `data_kind`).
        template: the template's name, added by training.
    """

    task: str
    target: str
    class_names: list[str]
    schema: list[dict[str, Any]]
    decision: dict[str, Any]
    data_kind: str
    template: str


class _ReportMetrics(TypedDict):
    metrics: dict[str, float]


class Report(_ReportMetrics, total=False):
    """The test report `evaluate` returns, written to the run's evaluation.json.

    `metrics` is required; these other keys are read by the engine and the pages
    where a report has them, and a template adds its own (plot data, examples).

    Attributes:
        metrics: the model's scores on the test split, by metric name.
        baseline: the same scores of a naive baseline (e.g. the most common class).
        reference: the same scores of a reference model (e.g. gradient boosting).
        summary: plain sentences, the first one the headline.
        verdict: whether the model beats the baseline, with its interval and sentence.
        reference_comparison: how the model compares with the reference.
        headline_metric: the metric the runs list shows (default: accuracy or the
            first metric).
        decision: the threshold analysis of a binary classifier (`core.decision`).
    """

    baseline: dict[str, float]
    reference: dict[str, float]
    summary: list[str]
    verdict: dict[str, Any]
    reference_comparison: dict[str, Any]
    headline_metric: str
    decision: dict[str, Any]


@dataclass(frozen=True)
class Prepared:
    """Datasets bound to one run; `info` must be JSON-serializable (written to the run)."""

    train: Split
    val: Split
    test: Split
    info: Info
    class_weight: Mapping[int, float] | None = field(default=None)


class Template(ABC):
    """Base of every registered, stateless blueprint for one task.

    Besides the three steps of STYLE §3.3 (check, prepare, build_model), a template
    knows how to evaluate its task and predict from a file, and names the standalone
    script that ships in the bundle as predict.py. The defaults here serve a template
    whose data is one stored CSV table, so a template implements only what differs.
    Training, export, the CLI and the pages stay generic: adding a template is one
    module plus one import line in `core/catalog.py`.

    The contract, checked when a concrete subclass is defined: the abstract methods
    (`example_data`, `check`, `prepare`, `build_model`, `evaluate`,
    `write_check_input`), one of `predict_frame` (rows of a table) or `predict_file`
    (files), and the attributes in `REQUIRED_ATTRIBUTES`. The others have defaults.

    Attributes:
        name: the registry key, persisted in runs (never rename it). Required.
        title: what a person sees, e.g. "Classify rows of a table". Required.
        description: one or two plain sentences under the title.
        task: "classification", "regression", "forecasting", ... Required.
        data_kind: the kind of data the template models: "table", "series",
            "images", ...; pages look its views up by it (a kind with no views of its
            own gets the generic ones). Required (default "table").
        sources: the stored dataset kinds it trains on (default: `(data_kind,)`).
        params: the knobs the generic form renders (default: the training knobs).
        bundle_script: module whose file is the bundle's predict.py (standalone).
            Required.
        predict_input: what the bundle's predict.py takes, e.g. "your_rows.csv".
        limitations: model-card lines specific to this template.
        usage: model-card paragraph: how to call the model from Python.
        metadata_checks: the run-info keys its predict path reads, each with a check
            and the words for what it holds (`core.templates.checks`); an imported
            bundle must pass them.
        noun: what one example of its data is called, plural ("rows", "photos"), as
            in "tested on photos it never saw".
        applies_fixes: whether it takes the run parameter `fixes`, the data check's
            simple fixes (`core.fixes`); a template without refuses it.
    """

    name: str = ""
    title: str = ""
    description: str = ""
    task: str = ""
    data_kind: str = "table"
    params: tuple[Param, ...] = TRAINING_PARAMS
    bundle_script: str = ""
    predict_input: str = "your_rows.csv"
    limitations: tuple[str, ...] = ()
    usage: str = ""
    metadata_checks: KeyChecks = {}
    noun: str = "rows"
    applies_fixes: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Checks a concrete template's required attributes when its class is defined.

        Raises:
            TypeError: if a required attribute is empty, or neither `predict_frame`
                nor `predict_file` is implemented.
        """
        super().__init_subclass__(**kwargs)
        if not _is_abstract(cls):
            _check_contract(cls)

    @property
    def sources(self) -> tuple[str, ...]:
        """The stored dataset kinds this template trains on."""
        return (self.data_kind,)

    def store_input(self, path: Path) -> str:
        """Stores a file given on the command line; returns its dataset id."""
        return datasets.store_upload(path.name, path.read_bytes())

    def load_data(self, dataset_id: str) -> Any:
        """Loads a stored dataset in the form `check` and `prepare` take."""
        return datasets.load_table(dataset_id)

    def suggest(self, data: Any, target: str | None) -> tuple[float, str]:
        """Scores how well the template fits the data, in [0, 1], with a plain reason."""
        return 0.1, ""

    @abstractmethod
    def example_data(self) -> tuple[Any, str | None]:
        """Returns tiny data and its target on which the template trains (contract test)."""

    def preflight(
        self, data: Any, target: str | None, params: Mapping[str, Any]
    ) -> list[str]:
        """Returns data-quality warnings in plain sentences (they do not block training)."""
        return []

    def notes(
        self, data: Any, target: str | None, params: Mapping[str, Any]
    ) -> list[str]:
        """Returns plain-words notes on what the template will see (default: preflight)."""
        return self.preflight(data, target, params)

    def chance_warning(
        self, data: Any, target: str | None, params: Mapping[str, Any]
    ) -> str:
        """Returns a sentence to show before training, in plain sight, when the data and
        this computer predict a model no better than guessing; "" when nothing does."""
        return ""

    @abstractmethod
    def check(
        self, data: Any, target: str | None, params: Mapping[str, Any]
    ) -> list[str]:
        """Returns problems that block training, in plain words; `[]` means OK."""

    @abstractmethod
    def prepare(
        self, data: Any, target: str | None, params: Mapping[str, Any], seed: int
    ) -> Prepared:
        """Splits the data and returns model-ready inputs for train, validation and test.

        `info` must hold the split sizes (`Info`: `n_train`, `n_val`, `n_test`).
        """

    @abstractmethod
    def build_model(self, prepared: Prepared, params: Mapping[str, Any]) -> Any:
        """Returns a compiled Keras model whose first layers are the adapted preprocessing."""

    def callbacks(self, prepared: Prepared, params: Mapping[str, Any]) -> list[Any]:
        """Returns Keras callbacks the template adds to training (default: none).

        E.g. images unfreeze a pre-trained backbone's top layers part-way through.
        """
        return []

    def calibrate(
        self, model: Any, prepared: Prepared, params: Mapping[str, Any]
    ) -> None:
        """Adjusts the trained model on validation data before it is saved (default: no-op).

        E.g. forecasting rescales its ranges so they hold their stated coverage.
        What it adds to `prepared.info` is written to the run's info.json.
        """
        return None  # optional: a no-op unless the template overrides it

    @abstractmethod
    def evaluate(
        self, model: Any, prepared: Prepared, params: Mapping[str, Any]
    ) -> Report:
        """Returns the JSON-ready test report (metrics, baselines, summary, plot data)."""

    @abstractmethod
    def write_check_input(self, prepared: Prepared, folder: Path) -> Path:
        """Writes a few raw test inputs that the bundle script accepts; returns their path."""

    def score_outputs(self, outputs: Any, targets: Any) -> tuple[str, float]:
        """Scores raw model outputs on the test targets, to compare exported formats.

        The default: accuracy (share right) for classification, else the mean absolute
        error of the first output.

        Returns:
            The metric's name and its value.
        """
        import numpy as np

        outputs, targets = np.asarray(outputs), np.asarray(targets)
        if self.task == "classification":
            guess = outputs.argmax(-1) if outputs.shape[-1] > 1 else outputs[:, 0] > 0.5
            return "accuracy", float(np.mean(guess == targets.astype(int)))
        point = outputs.reshape(len(outputs), -1)[:, 0]
        return "mae", float(np.mean(np.abs(point - targets.astype("float64"))))

    def metadata_conflict(self, metadata: Mapping[str, Any]) -> tuple[str, str] | None:
        """Returns a key that contradicts another, with what it should hold (None: none).

        Runs after each key passed its own check in `metadata_checks`.
        """
        return None

    def model_mismatch(self, model: Any, metadata: Mapping[str, Any]) -> str:
        """Says what in an imported model's shape contradicts its metadata ("" if it fits).

        The engine has checked the class count; a template checks what only it knows
        (input names, window lengths).
        """
        return ""

    def predict_file(
        self, model: Any, path: Path, info: Mapping[str, Any]
    ) -> tuple[pd.DataFrame, list[str]]:
        """Scores a file or folder of raw inputs; returns predictions and warnings.

        The default reads a CSV the robust way the app does and calls `predict_frame`.
        """
        frame = table_reading.read_csv_bytes(path.read_bytes(), path.name)
        return self.predict_frame(model, frame, info)

    def explain_file(
        self, model: Any, path: Path, info: Mapping[str, Any]
    ) -> tuple[pd.DataFrame, list[str]]:
        """Scores like `predict_file` and adds `why`: what weighed most in each answer.

        Raises:
            TemplateError: for a template that cannot explain its predictions.
        """
        raise TemplateError(
            f"The template `{self.name}` cannot explain its predictions (`--explain`)."
        )

    def predict_frame(
        self, model: Any, frame: pd.DataFrame, info: Mapping[str, Any]
    ) -> tuple[pd.DataFrame, list[str]]:
        """Scores a table of raw inputs; returns predictions and warnings.

        Raises:
            TemplateError: for a template whose inputs are not rows of a table.
        """
        raise TemplateError(
            f"The template `{self.name}` predicts from files ({self.predict_input}), "
            "not from table rows."
        )


REQUIRED_ATTRIBUTES = {
    "name": 'a stable snake_case registry key, e.g. "tabular_regression"',
    "title": 'what a person sees, e.g. "Predict a number"',
    "task": 'the task, e.g. "classification" or "regression"',
    "data_kind": 'the kind of data, e.g. "table" or "images"',
    "bundle_script": 'the module of the bundle\'s predict.py, e.g. "core.tables.bundle"',
}


def _is_abstract(cls: type) -> bool:
    """Whether `cls` still leaves an abstract method open (an intermediate base)."""
    return any(
        getattr(getattr(cls, name, None), "__isabstractmethod__", False)
        for name in dir(cls)
    )


def _check_contract(cls: type[Template]) -> None:
    for attribute, expected in REQUIRED_ATTRIBUTES.items():
        value = getattr(cls, attribute, None)
        if not (isinstance(value, str) and value):
            raise TypeError(
                f"Invalid value for attribute `{attribute}` of template "
                f"`{cls.__name__}`. Expected {expected}. Received: "
                f"{attribute}={value!r}"
            )
    if (
        cls.predict_frame is Template.predict_frame
        and cls.predict_file is Template.predict_file
    ):
        raise TypeError(
            f"Template `{cls.__name__}` cannot predict. Expected a `predict_frame` "
            "method (it scores rows of a table) or a `predict_file` method (files "
            "or folders)."
        )
