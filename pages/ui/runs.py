"""UI-only helpers: session keys, cached wrappers around core, generic forms, live progress.

Never shown as a page. Pages import it as `from pages import _ui`.
"""

from __future__ import annotations

import gc
import math
import numbers
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import pandas as pd
import streamlit as st

from core import data, runs, safe_csv, timeseries
from core.templates import get_template
from core.templates.base import resolve_params
from pages import _charts
from pages._text import plain


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
        st.error(plain(err))
        st.stop()


@st.cache_data(max_entries=8, show_spinner=False)
def window_plan(dataset_id: str, target: str) -> dict[str, Any] | None:
    """The forecast window a run would start from (see `timeseries.window_plan`).

    Returns:
        {"lookback", "horizon", "unit", "frequency", "sentence"}, or None when the
        table is not a series of `target`.
    """
    params = resolve_params(get_template("timeseries_forecasting"), {})
    try:
        return timeseries.window_plan(data.load_table(dataset_id), target, params)
    except data.DataError:
        return None


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

    frame = data.read_csv_bytes(content, name)
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
    """The column to predict that the data suggests (see `core.data.suggest_target`)."""
    return data.suggest_target(kinds)


def index_of(options: list, value: Any, fallback: int | None = 0) -> int | None:
    return options.index(value) if value in options else fallback


def show_findings(findings: list[data.Finding]) -> None:
    """Lists preflight findings as error/warning/info boxes: message, then the fix."""
    for finding in findings:
        alert, icon = LEVEL_ALERTS[finding.level]
        alert(f"**{plain(finding.message)}**  \n{plain(finding.fix)}", icon=icon)


# Runs.
def usable_runs() -> list[str]:
    """Finished runs whose model is sound and checked, newest first."""
    return runs.usable_runs()


def run_label(run_id: str) -> str:
    row = runs.summarize_run(run_id)
    label = f"{row['created']} · {row['dataset']} → {row['target']} · {row['state']}"
    if row["value"] is not None:
        label += f" · {row['metric']} {format_value(row['value'], 3)}"
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
    st.dataframe(people_table(metrics_table(evaluation)), key=key)


# Numbers and dates for people.
def format_value(value: Any, digits: int = 4) -> str:
    """A number or date as people write it: `14,250`, `32.35`, `0.0123`, `1961-01-01`.

    Numbers keep `digits` significant digits (whole numbers of `digits` or more digits
    are rounded to the unit) with thousands separators; dates drop a midnight time.
    """
    if value is None or value is pd.NaT:
        return "–"
    if isinstance(value, date):  # datetime and pd.Timestamp included
        return _format_time(pd.Timestamp(value))
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return str(value)
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if not math.isfinite(value):
        return "–" if math.isnan(value) else str(value)
    if abs(value) >= 10**digits:
        return f"{round(value):,}"
    return f"{value:,.{digits}g}"


def _format_time(stamp: pd.Timestamp) -> str:
    if stamp == stamp.normalize():
        return stamp.strftime("%Y-%m-%d")
    return stamp.strftime("%Y-%m-%d %H:%M" if stamp.second == 0 else "%Y-%m-%d %X")


def people_table(table: pd.DataFrame) -> Any:
    """A small table styled with `format_value` (its values stay sortable numbers)."""
    if not (table.index.is_unique and table.columns.is_unique):
        return table  # pandas cannot style repeated labels
    return table.style.format(format_value).format_index(format_value)


# Generic forms.
def train_form(
    template: Any, key: str, decided: dict[str, Any] | None = None
) -> tuple[bool, dict[str, Any]]:
    """The Train button first, then every setting in one collapsed expander.

    Args:
        template: the template to train.
        key: the form's widget key.
        decided: a function per parameter a person must decide (shown under the
            button, e.g. the forecast horizon), called inside the form with the Param.

    Returns:
        Whether Train was clicked, and the chosen values by parameter name.
    """
    decided = decided or {}
    with st.form(key, border=False):
        submitted = st.form_submit_button(
            "Train", type="primary", icon=":material/play_arrow:"
        )
        values = {
            p.name: decided[p.name](p) for p in template.params if p.name in decided
        }
        values |= param_form(template, skip=set(decided))
    return submitted, values


def param_form(template: Any, skip: set[str] = frozenset()) -> dict[str, Any]:
    """Renders a template's params in one expander: basic ones, then advanced ones.

    Call it inside an `st.form`. Returns the chosen values by parameter name.
    """
    shown = [p for p in template.params if p.name not in skip]
    with st.expander("More settings (the defaults suit most data)"):
        values = {p.name: _param_widget(p) for p in shown if not p.advanced}
        st.markdown("**Advanced**")
        values |= {p.name: _param_widget(p) for p in shown if p.advanced}
    return values


def horizon_widget(plan: dict[str, Any]) -> Callable[[Any], int]:
    """The forecast horizon in the series' own steps ("Forecast the next … months").

    Args:
        plan: the suggested horizon with its unit and frequency (see `window_plan`).
    """
    unit, suggested = plan["unit"], int(plan["horizon"])
    steps = unit if unit.endswith("s") else f"{unit}s"

    def widget(param: Any) -> int:
        return st.number_input(
            f"Forecast the next … {steps}",
            min_value=1,
            max_value=int(param.max_value or 1000),
            value=suggested,
            step=1,
            help=f"Your data has one value per {unit}. The model forecasts this many "
            f"{steps} after the last row; {suggested} suits {plan['frequency']} data. "
            "Further ahead is harder to get right.",
            key=f"_w_param_horizon_{unit.replace(' ', '_')}",
        )

    return widget


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
                low, high = format_value(feature["min"]), format_value(feature["max"])
                seen = f"Seen in training: {low} to {high}."
                row[name] = st.number_input(
                    plain(name),
                    value=float(feature["default"]),
                    format="%g",
                    help=seen,
                    key=key,
                )
            elif feature["kind"] == "category":
                options = list(feature["choices"])
                index = index_of(options, feature["default"])
                row[name] = st.selectbox(plain(name), options, index=index, key=key)
            else:
                row[name] = st.text_input(
                    plain(name), value=feature.get("default", ""), key=key
                )
    return row


def show_summary(summary: list[str], icon: str = ":material/balance:") -> None:
    """The verdict first (success), then the comparisons; an honest note is a warning."""
    if summary:
        st.success(plain(summary[0]), icon=":material/check_circle:")
    for sentence in summary[1:]:
        alert = st.warning if sentence.startswith("Honest note") else st.info
        alert(plain(sentence), icon=icon)


def csv_download(
    table: pd.DataFrame, file_name: str, label: str, key: str | None = None
) -> None:
    """A download button for a table as CSV; no rerun on click."""
    st.download_button(
        label,
        safe_csv.to_csv(table).encode(),
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
PHASES = {  # status.json's phase after the epochs: what the worker is doing now
    "preparing": "Preparing the data…",
    "saving": "Saving the best model…",
    "checking": "Checking the downloadable model…",
    "evaluating": "Evaluating on the test rows…",
}


def format_duration(seconds: float) -> str:
    """About how long, in words: `40 s`, `3 min`, `1 h 5 min`."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = int(round(seconds / 60))
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


def clock(timestamp: float | None) -> str:
    return datetime.fromtimestamp(timestamp or 0).strftime("%H:%M")


def progress_text(status: runs.RunStatus) -> str:
    """The run's phase in words, with the epoch and time left while it trains."""
    if status.is_active and status.phase in PHASES:
        return PHASES[status.phase]
    if status.state == "queued":
        return "Waiting to start"
    if status.state != "running":
        return f"Epoch {status.epoch}/{status.epochs} · {status.state}"
    text = f"Training: epoch {status.epoch}/{status.epochs}"
    if status.eta_seconds is not None:
        text += f", about {format_duration(status.eta_seconds)} left"
    return text


def progress_fraction(status: runs.RunStatus) -> float:
    """The share done; the epochs count as done once the worker moves past them."""
    after_epochs = status.phase in ("saving", "checking", "evaluating")
    return 1.0 if status.is_active and after_epochs else status.fraction


def queue_message(run_id: str) -> str:
    """Where a queued run stands: how many trainings are ahead, and the one running."""
    ahead = runs.runs_ahead_of(run_id)
    if not ahead:
        return "Starting the training process…"
    first, status = runs.read_spec(ahead[0]), runs.read_status(ahead[0])
    name = first.get("dataset_name") or first.get("dataset_id", "")
    started = clock(status.started_at or first.get("created_at"))
    trainings = "training" if len(ahead) == 1 else "trainings"
    return f"Waiting: {len(ahead)} {trainings} ahead of this one ({name}, started {started})"


def run_heading(run_id: str) -> str:
    """Which run this is: data set, target, template and start time."""
    spec = runs.read_spec(run_id)
    name = spec.get("dataset_name") or spec.get("dataset_id", "")
    target = f" → {spec['target']}" if spec.get("target") else ""
    template = template_title(spec["template"]) if spec.get("template") else ""
    return f"{name}{target} · {template} · started {clock(spec.get('created_at'))}"


def run_belongs_to(
    run_id: str, dataset_id: str, target: str | None, template: str
) -> bool:
    """Tells whether a run trains this dataset, target and template."""
    spec = runs.read_spec(run_id)
    return (spec.get("dataset_id"), spec.get("target"), spec.get("template")) == (
        dataset_id,
        target,
        template,
    )


def show_active_run(dataset_id: str, target: str | None, template: str) -> None:
    """Shows the active run's progress if it trains this data, template and target.

    Another data set's run is shown only while it is still going, labelled as such,
    so switching data never leaves the previous run's curves on screen.
    """
    run_id = get(ACTIVE_RUN_ID)
    try:
        if not run_id:
            return
        if run_belongs_to(run_id, dataset_id, target, template):
            st.subheader("Progress")
        elif runs.read_status(run_id).is_active:
            st.subheader("Another training in progress")
            st.caption(
                "It trains on other data or another template than the one above."
            )
        else:
            return
        live_progress(run_id)
    except runs.RunError as err:
        st.error(plain(err))


def live_progress(run_id: str) -> None:
    """Shows a run's progress, polling once a second only while it is active."""
    is_active = runs.read_status(run_id).is_active  # decided at full-run time
    heading = run_heading(run_id)

    @st.fragment(run_every=POLL_SECONDS if is_active else None)
    def _panel(was_active: bool) -> None:
        status = runs.read_status(run_id)
        st.caption(plain(heading))
        st.progress(progress_fraction(status), text=progress_text(status))
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
        st.error(
            plain(status.error or "Training failed. See train.log in the run folder.")
        )
    elif status.state == "queued" and not status.phase:
        st.info(plain(queue_message(status.run_id)), icon=":material/hourglass_top:")
    elif status.state == "running" and status.message and status.phase not in PHASES:
        st.caption(plain(status.message))
    elif status.state == "completed":
        st.success("Training finished. The model was tested on rows it never saw.")
        st.page_link(
            "pages/results.py", label="See the results", icon=":material/analytics:"
        )
    elif status.state == "stopped":
        st.warning("Training was stopped; the best model so far was kept.")
