"""UI-only helpers: session keys, cached wrappers around core, generic forms, live progress.

Never shown as a page. Pages import it as `from pages import _ui`.
"""

from __future__ import annotations

import gc
import math
from typing import Any

import pandas as pd
import streamlit as st

from core import data, runs
from core.templates import get_template
from core.templates.base import resolve_params
from pages import _charts


def leave_pages_directory_mode() -> None:
    """Reruns through app.py's navigation when Streamlit ran a page file directly.

    Until some session has run app.py, Streamlit treats `pages/` as an old-style
    pages folder, so a deep link such as /results on a fresh server runs that file
    alone and lists every file of `pages/` (helpers included) in the sidebar.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False  # what st.navigation itself sets
        st.rerun()


leave_pages_directory_mode()

# Session State keys: small, serializable values only (STYLE §3.4).
DATASET_ID = "dataset_id"
TARGET_COLUMN = "target_column"
TEMPLATE_NAME = "template_name"
ACTIVE_RUN_ID = "active_run_id"
COLUMN_KINDS = "column_kinds"  # {column: kind} overrides of the inferred kinds

POLL_SECONDS = 1.0
LEVEL_ALERTS = {
    "error": (st.error, ":material/error:"),
    "warning": (st.warning, ":material/warning:"),
    "info": (st.info, ":material/info:"),
}
METRIC_LABELS = {
    "accuracy": "Accuracy",
    "balanced_accuracy": "Balanced accuracy",
    "f1": "F1 score",
    "roc_auc": "ROC AUC",
    "mae": "Mean absolute error",
    "rmse": "Root mean squared error",
    "r2": "R² (share of variance explained)",
}

# Cached wrappers (STYLE C3): core stays plain, caching lives here.
load_table_cached = st.cache_data(data.load_table, max_entries=8, show_spinner=False)


@st.cache_data(max_entries=8, show_spinner=False)
def inferred_kinds(dataset_id: str) -> dict[str, str]:
    return data.infer_column_kinds(data.load_table(dataset_id))


def table_or_stop(dataset_id: str) -> pd.DataFrame:
    """Loads a dataset's table, or shows why it cannot be used and stops the page."""
    try:
        return load_table_cached(dataset_id)
    except data.DataError as err:
        st.error(str(err))
        st.stop()


@st.cache_data(max_entries=16, show_spinner=False)
def column_stats_cached(dataset_id: str, overrides: dict[str, str]) -> pd.DataFrame:
    frame = data.load_table(dataset_id)
    return data.column_stats(frame, data.resolve_kinds(frame, overrides))


@st.cache_data(max_entries=16, show_spinner="Checking the data for this template…")
def template_notes_cached(
    template_name: str, dataset_id: str, target: str, overrides: dict[str, str]
) -> list[str]:
    """The chosen template's own data check (what it will fix or warn about)."""
    template = get_template(template_name)
    try:
        params = resolve_params(template, {"column_kinds": overrides})
        return template.preflight(template.load_data(dataset_id), target, params)
    except data.DataError as err:
        return [str(err)]


@st.cache_resource(max_entries=4, show_spinner="Loading the model…")
def load_model_cached(run_id: str) -> Any:
    """Loads a run's Keras model once per run id; freezes the GC so reruns stay fast."""
    from core import export  # imports Keras lazily, inside its functions

    model = export.load_model(run_id)
    gc.freeze()  # TF creates many long-lived objects; keep them out of GC scans
    return model


@st.cache_data(max_entries=4, show_spinner="Scoring the rows…")
def score_csv_cached(
    run_id: str, content: bytes, name: str
) -> tuple[pd.DataFrame, list[str]]:
    """Reads CSV bytes and appends the run's predictions (see `core.export`)."""
    from core import export

    frame = data.read_csv_bytes(content, name, min_columns=1)
    return export.predict_frame(run_id, frame, model=load_model_cached(run_id))


# Session helpers.
def get(key: str, default: Any = None) -> Any:
    return st.session_state.get(key, default)


def remember(key: str, value: Any) -> Any:
    """Copies a widget's value to a plain key that survives page changes."""
    st.session_state[key] = value
    return value


def use_dataset(dataset_id: str, target: str | None = None) -> None:
    """Makes `dataset_id` the current dataset; a new dataset resets target and kinds."""
    if st.session_state.get(DATASET_ID) != dataset_id:
        st.session_state[DATASET_ID] = dataset_id
        st.session_state[TARGET_COLUMN] = target
        st.session_state[COLUMN_KINDS] = {}


# Format functions for selectboxes and radios. AppTest keeps them in Session State, so
# with enforceSerializableSessionState they must be importable functions, not lambdas.
def sample_title(file_name: str) -> str:
    return data.SAMPLES[file_name][0]


def template_title(name: str) -> str:
    from core.templates import get_template

    return get_template(name).title


def default_target(kinds: dict[str, str]) -> str:
    """The last column that could be predicted (not an ID, date or free text)."""
    usable = [c for c, k in kinds.items() if k in ("number", "category", "boolean")]
    return (usable or list(kinds))[-1]


def index_of(options: list, value: Any, fallback: int | None = 0) -> int | None:
    return options.index(value) if value in options else fallback


def show_findings(findings: list[data.Finding]) -> None:
    """Lists preflight findings as error/warning/info boxes: message, then the fix."""
    for finding in findings:
        alert, icon = LEVEL_ALERTS[finding.level]
        alert(f"**{finding.message}**  \n{finding.fix}", icon=icon)


# Runs.
def usable_runs() -> list[str]:
    """Finished runs that have a saved model, newest first."""
    return [
        r
        for r in runs.list_runs()
        if not runs.read_status(r).is_active
        and (runs.runs_root() / r / runs.MODEL_FILE).is_file()
    ]


def run_label(run_id: str) -> str:
    row = runs.summarize_run(run_id)
    label = f"{row['created']} · {row['dataset']} → {row['target']} · {row['state']}"
    if row["value"] is not None:
        label += f" · {row['metric']} {row['value']:.3g}"
    return f"{label} · #{run_id[-4:]}"


def pick_run(
    label: str, options: list[str], key: str, follow: bool = True
) -> str | None:
    """A run selectbox that defaults to the active run.

    With `follow`, a run the user picks becomes the active run (copied in a callback,
    so merely opening a page never replaces a run that is still training).
    """
    if not options:
        return None
    return st.selectbox(
        label,
        options,
        index=index_of(options, get(ACTIVE_RUN_ID)),
        format_func=run_label,
        key=key,
        on_change=copy_widget if follow else None,
        args=(key, ACTIVE_RUN_ID) if follow else None,
    )


def copy_widget(widget_key: str, key: str) -> None:
    st.session_state[key] = st.session_state[widget_key]


def runs_table(run_ids: list[str]) -> pd.DataFrame:
    """One row per run: template, dataset, target, key metric, state, date."""
    columns = [
        "run_id",
        "template",
        "dataset",
        "target",
        "metric",
        "value",
        "state",
        "created",
    ]
    return pd.DataFrame([runs.summarize_run(r) for r in run_ids], columns=columns)


def download_buttons(run_id: str) -> None:
    """Buttons for the checked bundle and the bare model; files are read on click."""
    from core import export

    model_path = runs.run_dir(run_id) / runs.MODEL_FILE
    left, right = st.columns(2)
    left.download_button(
        "Download bundle.zip",
        data=export.bundle_path(run_id).read_bytes,
        file_name=f"{run_id}-bundle.zip",
        mime="application/zip",
        on_click="ignore",
        icon=":material/download:",
        type="primary",
    )
    right.download_button(
        "Download model.keras",
        data=model_path.read_bytes,
        file_name=f"{run_id}-model.keras",
        mime="application/octet-stream",
        on_click="ignore",
        icon=":material/download:",
    )


def metrics_table(evaluation: dict[str, Any]) -> pd.DataFrame:
    """Our model, the baseline and the gradient-boosting reference side by side."""
    columns = {
        "ours": evaluation.get("metrics", {}),
        "baseline": evaluation.get("baseline", {}),
        "gradient boosting reference": evaluation.get("reference", {}),
    }
    table = pd.DataFrame(columns)
    table.index = [METRIC_LABELS.get(name, name) for name in table.index]
    return table


def show_metrics(evaluation: dict[str, Any], key: str | None = None) -> None:
    table = metrics_table(evaluation).style.format("{:.3f}", na_rep="–")
    st.dataframe(table, key=key)


# Generic forms.
def param_form(template: Any) -> dict[str, Any]:
    """Renders a template's params (basic ones, then an expander with the advanced ones).

    Call it inside an `st.form`. Returns the chosen values by parameter name.
    """
    values = {p.name: _param_widget(p) for p in template.params if not p.advanced}
    with st.expander("Advanced settings"):
        values |= {p.name: _param_widget(p) for p in template.params if p.advanced}
    return values


def _param_widget(param: Any) -> Any:
    key, default = f"_w_param_{param.name}", param.default
    common = {"help": param.help or None, "key": key}
    if param.choices:
        options = list(param.choices)
        return st.selectbox(param.label, options, options.index(default), **common)
    if isinstance(default, bool):
        return st.checkbox(param.label, value=default, **common)
    if isinstance(default, int):
        low, high = param.min_value, param.max_value
        return st.number_input(
            param.label,
            min_value=None if low is None else int(low),
            max_value=None if high is None else int(high),
            value=default,
            step=1,
            **common,
        )
    if isinstance(default, float):
        return st.number_input(
            param.label,
            min_value=param.min_value,
            max_value=param.max_value,
            value=default,
            step=_float_step(default),
            format="%g",
            **common,
        )
    return st.text_input(param.label, value=str(default), **common)


def _float_step(value: float) -> float:
    return 10.0 ** math.floor(math.log10(abs(value))) if value else 0.01


def schema_form(schema: list[dict[str, Any]]) -> dict[str, Any]:
    """Renders one input per model column (from a run's `info.json` schema)."""
    row = {}
    columns = st.columns(3)
    for i, feature in enumerate(schema):
        name, key = feature["name"], f"_w_input_{feature['name']}"
        with columns[i % 3]:
            if feature["kind"] == "number":
                seen = f"Seen in training: {feature['min']:g} to {feature['max']:g}."
                row[name] = st.number_input(
                    name,
                    value=float(feature["default"]),
                    format="%g",
                    help=seen,
                    key=key,
                )
            elif feature["kind"] == "category":
                options = list(feature["choices"])
                index = index_of(options, feature["default"])
                row[name] = st.selectbox(name, options, index=index, key=key)
            else:
                row[name] = st.text_input(
                    name, value=feature.get("default", ""), key=key
                )
    return row


def show_summary(summary: list[str], icon: str = ":material/balance:") -> None:
    """The verdict first (success), then the comparisons; an honest note is a warning."""
    if summary:
        st.success(summary[0], icon=":material/check_circle:")
    for sentence in summary[1:]:
        alert = st.warning if sentence.startswith("Honest note") else st.info
        alert(sentence, icon=icon)


def csv_download(
    table: pd.DataFrame, file_name: str, label: str, key: str | None = None
) -> None:
    """A download button for a table as CSV; no rerun on click."""
    st.download_button(
        label,
        table.to_csv(index=False).encode(),
        file_name=file_name,
        mime="text/csv",
        icon=":material/download:",
        on_click="ignore",
        key=key,
    )


def start_training(
    template: Any, dataset_id: str, dataset: Any, target: str | None, values: dict
) -> list[str]:
    """Checks the settings and the data, then starts a run and makes it the active one.

    Returns:
        The problems that blocked training, in plain words (`[]` when a run started).
    """
    try:
        params = resolve_params(template, values)
        problems = template.check(dataset, target, params)
        if not problems:
            spec = runs.RunSpec(
                template.name,
                dataset_id,
                target,
                params,
                seed=int(params["seed"]),
                dataset_name=data.dataset_name(dataset_id),
            )
            remember(ACTIVE_RUN_ID, runs.start_run(spec))
    except (data.DataError, runs.RunError) as err:
        problems = [str(err)]
    return problems


# Live progress (STYLE §3.5).
def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "ETA --:--"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"ETA {minutes:02d}:{secs:02d}"


def live_progress(run_id: str) -> None:
    """Shows a run's progress, polling once a second only while it is active."""
    is_active = runs.read_status(run_id).is_active  # decided at full-run time

    @st.fragment(run_every=POLL_SECONDS if is_active else None)
    def _panel(was_active: bool) -> None:
        status = runs.read_status(run_id)
        text = f"Epoch {status.epoch}/{status.epochs} · {status.state}"
        if status.is_active:
            text += f" · {format_eta(status.eta_seconds)}"
        st.progress(status.fraction, text=text)
        if status.device:
            st.caption(f"Device: {status.device}")
        _status_message(status)
        metrics = runs.read_metrics(run_id)
        if not metrics.empty:
            st.plotly_chart(_charts.learning_curves(metrics))
        if status.is_active:
            st.button("Stop", on_click=runs.request_stop, args=(run_id,), key="_w_stop")
        if was_active and not status.is_active:
            st.rerun()  # once, on the transition to a final state

    _panel(was_active=is_active)


def _status_message(status: runs.RunStatus) -> None:
    if status.state == "failed":
        st.error(status.error or "Training failed. See train.log in the run folder.")
    elif status.state == "queued":
        st.info(status.message or "Waiting for the training process to start.")
    elif status.state == "running" and status.message:
        st.caption(status.message)
    elif status.state == "completed":
        st.success("Training finished. The model was tested on rows it never saw.")
        st.page_link(
            "pages/results.py", label="See the results", icon=":material/analytics:"
        )
    elif status.state == "stopped":
        st.warning("Training was stopped; the best model so far was kept.")
