"""Runs in the UI: pickers, the runs table, downloads, starting one, live progress."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import streamlit as st

from core import launch, runs
from core.catalog import get_template
from core.errors import UserError
from pages.ui import charts
from pages.ui.state import (
    ACTIVE_RUN_ID,
    copy_widget,
    get,
    index_of,
    remember,
    template_title,
)
from pages.ui.text import format_value, plain

POLL_SECONDS = 1.0


def run_label(run_id: str) -> str:
    row = runs.summarize_run(run_id)
    target = f" → {row['target']}" if row["target"] else ""  # pictures have none
    label = f"{row['created']} · {row['dataset']}{target} · {row['state']}"
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


def verdict_label(evaluation: dict[str, Any]) -> str:
    """The verdict in a few words for lists (its words say if it beats the baseline).

    No emoji: a browser without an emoji font shows a box in their place.
    """
    verdict = evaluation.get("verdict")
    if not isinstance(verdict, dict) or not verdict:
        return ""
    return str(verdict.get("headline", ""))


def download_buttons(run_id: str) -> None:
    """Buttons for the checked bundle and the bare model; files are read on click."""
    model_path = runs.run_dir(run_id) / runs.MODEL_FILE
    left, right = st.columns(2)
    _bundle_button(left, "Download bundle.zip", run_id)
    right.download_button(
        "Download model.keras",
        data=model_path.read_bytes,
        file_name=f"{run_id}-model.keras",
        mime="application/octet-stream",
        on_click="ignore",
        icon=":material/download:",
    )


DOWNLOAD_NOTE = (
    "A .zip with the model and a ready-to-run predict script; works with Python and "
    "Keras 3."
)


def download_model(run_id: str) -> None:
    """The primary download: the checked bundle the worker prepared after training.

    A run without it (trained before this existed, or whose preparation failed)
    gets a button that prepares it once, keeping it in the run for next time. While
    the worker still prepares it, the place waits and the page reruns when it is done.
    """
    from core import export, formats

    if launch.state(run_id).is_active:
        _download_on_its_way(run_id)
        return
    slot = st.empty()
    ready = export.ready_download(run_id)
    if not ready and slot.button(
        "Prepare the model download",
        type="primary",
        icon=":material/package_2:",
        key="_w_prepare_download",
    ):
        with slot.status("Preparing the model file and checking it…") as box:
            if not export.prepare_download(run_id, by="results")["ok"]:
                box.update(label="The model file is not ready.", state="error")
        ready = export.ready_download(run_id)
    if not ready:
        _download_not_ready(run_id)
        return
    _bundle_button(slot, "Download model", run_id, key="_w_download_model")
    size = formats.format_size(ready["size_bytes"])
    st.caption(
        f"{DOWNLOAD_NOTE} {size}; checked: reloaded on its own, it gives the same "
        "answers as here."
    )


def _download_not_ready(run_id: str) -> None:
    """Why the last preparation failed (if it did), and what the button does."""
    from core import export

    record, check = export.read_download(run_id), export.read_export_check(run_id)
    reason = next(
        (r["message"] for r in (record, check) if r and r.get("ok") is False), ""
    )
    if reason:
        st.warning(plain(reason), icon=":material/block:")
    st.caption(
        f"{DOWNLOAD_NOTE} Preparing it takes a few seconds once: the file is built, "
        "then checked in a fresh process, and kept for next time."
    )


def _download_on_its_way(run_id: str) -> None:
    """The worker is still preparing the file: say so, and rerun once it is done."""
    page = _page_hash()

    @st.fragment(run_every=POLL_SECONDS)
    def _wait() -> None:
        if not launch.state(run_id).is_active:
            if _page_hash() == page:  # not on a page the person moved on to
                st.rerun()
            return
        st.info(
            "Preparing the model download: the file is built and checked once, "
            "right after training…",
            icon=":material/hourglass_top:",
        )

    _wait()


def format_downloads(run_id: str, names: tuple[str, ...] | None = None) -> None:
    """One download per format, converted on demand and checked in a fresh process.

    Conversion runs only when its button is pressed; results are cached in the run.
    """
    from core import formats

    for name in names or tuple(formats.FORMATS):
        fmt = formats.FORMATS[name]
        with st.container(border=True):
            st.markdown(f"**{fmt.label}**")
            st.caption(fmt.use)
            result = formats.read_result(run_id, name)
            button = "Prepare this file" if not result else "Prepare again"
            if st.button(button, key=f"_w_convert_{name}", icon=":material/sync:"):
                result = _convert(run_id, name) or result
            if result:
                _format_result(run_id, name, result)


def _convert(run_id: str, name: str) -> dict[str, Any]:
    """Converts with a progress box; a failure is shown below it ({} returned)."""
    from core import formats

    title = formats.FORMATS[name].title
    with st.status(f"Converting to {title} and checking it in a fresh process…") as box:
        try:
            result = formats.export_format(run_id, name, force=True)
        except UserError as err:
            box.update(label=f"The {title} conversion failed.", state="error")
            failure = str(err)
        else:
            box.update(label=f"{title}: converted and checked.", state="complete")
            return result
    st.error(plain(failure))
    return {}


def _format_result(run_id: str, name: str, result: dict[str, Any]) -> None:
    from core import formats

    if not result.get("ok"):
        st.warning(plain(result.get("message", "")), icon=":material/block:")
        return
    st.success(plain(result["message"]), icon=":material/verified:")
    path = formats.download_path(run_id, name)
    label = f"Download {name} ({formats.format_size(result['size_bytes'])}"
    if result.get("latency_ms"):
        label += f", {result['latency_ms']:.1f} ms a prediction"
    st.download_button(
        label + ")",
        data=path.read_bytes,
        file_name=f"{run_id}-{path.name}",
        mime="application/zip",
        on_click="ignore",
        icon=":material/download:",
        key=f"_w_download_{name}",
    )
    if len(result.get("variants", [])) > 1:
        keras_score = result.get("keras", {}).get("score")
        for variant in result["variants"]:
            st.caption(plain(formats.describe_variant(variant, keras_score)))


def start(
    template_name: str, dataset_id: str, target: str | None, values: dict[str, Any]
) -> list[str]:
    """Starts a run (see `core.launch.start_training`) and makes it the active one.

    Returns:
        The problems that blocked training, in plain words (`[]` when a run started).
    """
    try:
        remember(
            ACTIVE_RUN_ID,
            launch.start_training(template_name, dataset_id, target, values),
        )
    except UserError as err:
        return str(err).splitlines()
    return []


# Live progress (STYLE §3.5).
PHASES = {  # status.json's phase after the epochs: what the worker is doing now
    "preparing": "Preparing the data…",
    "saving": "Saving the best model…",
    "checking": "Checking the downloadable model…",
    "evaluating": "Evaluating on the test rows…",
    "packaging": "Preparing the model download…",
}


format_duration = runs.format_duration  # about how long, in words


def clock(timestamp: float | None) -> str:
    return datetime.fromtimestamp(timestamp or 0).strftime("%H:%M")


def progress_text(status: runs.RunStatus) -> str:
    """The run's phase in words, with the epoch and time left while it runs.

    The time left includes the work after the epochs (evaluation too), is
    "estimating" until the first epoch ends, and never exceeds the budget left. A
    run that ended before its last epoch says why (`runs.stop_sentence`).
    """
    now = time.time()
    if status.is_active and status.phase in PHASES:
        eta = status.eta_at(now)
        text = PHASES[status.phase]
        return f"{text} about {format_duration(eta)} left" if (eta or 0) >= 1 else text
    if status.state == "queued":
        return "Waiting to start"
    if status.state != "running":
        reason = runs.stop_sentence(status) if status.state != "failed" else ""
        return reason or f"Epoch {status.epoch}/{status.epochs} · {status.state}"
    text = f"Training: epoch {status.epoch}/{status.epochs}"
    eta, budget_left = status.eta_at(now), status.budget_left_at(now)
    if eta is None:
        most = f" (at most {format_duration(budget_left)})" if budget_left else ""
        return f"{text}, estimating the time left{most}…"
    if status.budget_spent_at(now) and status.epoch < status.epochs:
        text += ", time budget reached: finishing up"
    return f"{text}, about {format_duration(eta)} left" if eta >= 1 else text


def progress_fraction(status: runs.RunStatus) -> float:
    """The share done; the epochs count as done once the worker moves past them."""
    after_epochs = status.phase in ("saving", "checking", "evaluating", "packaging")
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
    except UserError as err:
        st.error(plain(err))


def live_progress(run_id: str, rerun_when_done: bool = False) -> None:
    """Shows a run's progress, polling once a second only while it is active.

    Args:
        run_id: the run to follow.
        rerun_when_done: rerun the page once the run ends (e.g. Results, to draw the
            report). The Train page does not: its panel shows the end itself, and a
            rerun there raced with the person's next click (it swallowed a page switch).
    """
    is_active = launch.state(run_id).is_active  # decided at full-run time
    heading = run_heading(run_id)
    page = _page_hash()

    @st.fragment(run_every=POLL_SECONDS if is_active else None)
    def _panel(was_active: bool) -> None:
        status = launch.state(run_id)
        st.caption(plain(heading))
        st.progress(progress_fraction(status), text=progress_text(status))
        if status.device:
            st.caption(f"Device: {status.device}")
        _status_message(status)
        metrics = runs.read_metrics(run_id)
        if not metrics.empty:
            st.plotly_chart(charts.learning_curves(metrics))
        if status.is_active:
            st.button("Stop", on_click=launch.stop, args=(run_id,), key="_w_stop")
        # Once, on the transition to a final state, and only on the page that drew
        # the panel: a timer that fires after the person moved on must not rerun
        # their new page (it would swallow e.g. a Predict click).
        ended = was_active and not status.is_active
        if rerun_when_done and ended and _page_hash() == page:
            st.rerun()

    _panel(was_active=is_active)


def _page_hash() -> str:
    """The script hash of the page being run in this session."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return ctx.page_script_hash if ctx else ""


def _noun(run_id: str) -> str:
    """What the run's examples are called ("rows", "photos"): its template says."""
    try:
        return get_template(runs.read_spec(run_id).get("template", "")).noun
    except UserError:
        return "rows"


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
        st.success(
            f"Training finished. The model was tested on {_noun(status.run_id)} it "
            "never saw."
        )
        st.page_link(
            "pages/results.py", label="See the results", icon=":material/analytics:"
        )
    elif status.state == "stopped":
        st.warning("Training was stopped; the best model so far was kept.")


def _bundle_button(container: Any, label: str, run_id: str, **extra: Any) -> None:
    """A primary button that downloads the run's checked bundle (read on click)."""
    from core import export

    container.download_button(
        label,
        data=export.bundle_path(run_id).read_bytes,
        file_name=f"{run_id}-bundle.zip",
        mime="application/zip",
        on_click="ignore",
        icon=":material/download:",
        type="primary",
        **extra,
    )
