"""Views for pictures: upload, thumbnails and check, results, and predictions."""

from __future__ import annotations

import hashlib

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import datasets, runs
from core.errors import UserError
from core.text import ingest as text_ingest
from core.vision import bundle as vision_bundle
from core.vision import ingest as vision_ingest
from core.vision import previews, saliency, tracking, video, weights
from core.vision.bundle import IMAGE_EXTENSIONS
from pages.ui import backbones, charts
from pages.ui.cache import load_model_cached
from pages.ui.text import people_table, percent, plain, plot_text, sentence
from pages.ui.widgets import (
    csv_download,
    metrics_table,
    pick_mistakes,
    show_classification_results,
    show_findings,
)

PICTURE_TYPES = [e.lstrip(".") for e in IMAGE_EXTENSIONS]
VIDEO_TYPES = [e.lstrip(".") for e in video.VIDEO_EXTENSIONS]
GRID_COLUMNS = 6
# Session state: the snapshot tracker's JSON-ready state before and after the last one.
CAMERA_TRACKS = "camera_tracks"
VIDEO_MODES = {
    "Classify whole frames": None,
    "Find, follow and label faces": "faces",
    "Find, follow and label moving things": "motion",
}


# Cached wrappers (STYLE C3).
load_images_cached = st.cache_data(
    vision_ingest.load_images, max_entries=4, show_spinner=False
)
thumbnails_cached = st.cache_data(
    previews.thumbnails, max_entries=8, show_spinner=False
)
stored_thumbnail_cached = st.cache_data(
    previews.stored_thumbnail, max_entries=256, show_spinner=False
)


# --- Data page -------------------------------------------------------------------------


def upload() -> str | None:
    """Image uploads: a zip, a folder, or pictures plus a labels CSV; or the sample."""
    with st.expander("…or pictures: a zip, a folder, or photos with a labels CSV"):
        st.caption(
            "Put the pictures of each class in their own folder (e.g. `with_mask/`, "
            "`without_mask/`), or add a CSV with the columns `filename,label`."
        )
        files = st.file_uploader(
            "A zip, or pictures + a labels CSV",
            type=["zip", "csv", *PICTURE_TYPES],
            accept_multiple_files=True,
            key="_w_image_files",
        )
        folder = st.file_uploader(
            "A folder of class folders",
            accept_multiple_files="directory",
            key="_w_image_folder",
        )
        sample = st.button("Use the face-mask sample photos", key="_w_face_mask")
    try:
        if folder:
            return text_ingest.store_class_files(
                "folder", [(f.name, f.getvalue()) for f in folder]
            )
        if files:
            return _store_uploads(files)
        if sample:
            return vision_ingest.store_sample()
    except UserError as err:
        st.error(plain(err))
        st.stop()
    return None


def _store_uploads(files: list) -> str:
    zips = [f for f in files if f.name.lower().endswith(".zip")]
    if zips:
        return text_ingest.store_class_zip(zips[0].name, zips[0].getvalue())
    return vision_ingest.store_files(
        "pictures", [(f.name, f.getvalue()) for f in files]
    )


def data_view(dataset_id: str) -> None:
    """Counts per class, the preflight in plain words, skipped files, thumbnails."""
    try:
        image_set = load_images_cached(dataset_id)
    except UserError as err:
        st.error(plain(err))
        st.stop()
    counts = vision_ingest.class_counts(image_set)
    st.subheader(plain(datasets.dataset_name(dataset_id)))
    st.caption(f"{len(image_set.table):,} pictures · {len(counts)} classes")
    labels = image_set.table["label"].rename("class")
    st.plotly_chart(charts.target_distribution(labels, "category"))
    st.subheader("Data check")
    problems = vision_ingest.check(image_set)
    for problem in problems:
        st.error(plain(problem), icon=":material/error:")
    show_findings(vision_ingest.preflight(image_set))
    if not problems and not vision_ingest.preflight(image_set):
        st.success("No data-quality problems found.", icon=":material/check_circle:")
    if len(image_set.skipped):
        with st.expander(f"Skipped files ({len(image_set.skipped)})"):
            st.dataframe(image_set.skipped, hide_index=True)
    st.subheader("Sample pictures")
    for label, shown in thumbnails_cached(dataset_id).items():
        st.markdown(f"**{plain(label)}** ({counts[label]} pictures)")
        grid([pixels for _, pixels in shown], [name for name, _ in shown])
    st.page_link(
        "pages/train.py", label="Next: train a model", icon=":material/arrow_forward:"
    )


def grid(pictures: list, captions: list[str]) -> None:
    """Pictures in rows of `GRID_COLUMNS`."""
    columns = st.columns(GRID_COLUMNS)
    for index, (pixels, caption) in enumerate(zip(pictures, captions, strict=True)):
        columns[index % GRID_COLUMNS].image(pixels, caption=plain(caption))


# --- Train page -----------------------------------------------------------------------


def warn(warning: str) -> None:
    """The warning, with its remedy right under it: get the pre-trained network here."""
    with st.container(border=True):
        st.warning(sentence(warning), icon=":material/warning:")
        backbones.offer(weights.AUTO, "_w_train_weights")


# --- Results page ----------------------------------------------------------------------


def results_view(run_id: str, evaluation: dict) -> None:
    """Verdict, scores beside the baseline, confusion cells with their pictures, saliency."""
    scores = metrics_table(evaluation).drop(
        columns="gradient boosting reference", errors="ignore"
    )
    show_classification_results(evaluation, "Scores on the test pictures", scores)
    _misclassified_section(evaluation)
    _saliency_section(run_id, evaluation)
    metrics = runs.read_metrics(run_id)
    if not metrics.empty:
        st.plotly_chart(charts.learning_curves(metrics))


def _misclassified_section(evaluation: dict) -> None:
    shown = pick_mistakes(evaluation, "pictures", "_w_cell")
    if not shown:
        return
    pictures = [
        stored_thumbnail_cached(evaluation["dataset_id"], e["path"]) for e in shown
    ]
    captions = [_caption(e) for e in shown]
    kept = [(p, c) for p, c in zip(pictures, captions, strict=True) if p is not None]
    if kept:
        grid([p for p, _ in kept], [c for _, c in kept])
    st.dataframe(
        pd.DataFrame([{"file": e["file"], **e["probabilities"]} for e in shown]),
        hide_index=True,
    )


def _caption(example: dict) -> str:
    top = example["probabilities"][example["predicted"]]
    return f"{example['file']} · {example['predicted']} {percent(top)}"


def _saliency_section(run_id: str, evaluation: dict) -> None:
    st.subheader("Where the model looked")
    examples = evaluation.get("examples", [])
    if not examples:
        return
    files = [e["file"] for e in examples]
    chosen = st.selectbox("Test picture", files, key="_w_saliency_file")
    example = examples[files.index(chosen)]
    if st.button("Show where the model looked", key="_w_saliency"):
        try:
            folder = vision_ingest.dataset_folder(evaluation["dataset_id"])
        except UserError as err:
            st.error(plain(err))
            return
        content = (folder / example["path"]).read_bytes()
        size = int(runs.load_info(run_id)["image_size"])
        model = load_model_cached(run_id)
        left, right = st.columns(2)
        left.image(
            previews.thumbnail(folder / example["path"], 256),
            caption=plain(chosen),
        )
        right.image(
            saliency.explain(model, content, size),
            caption="red = pixels that moved the answer "
            f"({plain(example['predicted'])}) most",
        )


# --- Predict page ----------------------------------------------------------------------


def predict_view(run_id: str, info: dict) -> None:
    """Pictures, a camera snapshot, or a video, classified by the chosen run."""
    st.caption(f"Classes: {plain(', '.join(info['class_names']))}.")
    picture_tab, camera_tab, video_tab = st.tabs(["Pictures", "Camera", "Video"])
    with picture_tab:
        _pictures_section(run_id, info)
    with camera_tab:
        _camera_section(run_id, info)
    with video_tab:
        _video_section(run_id, info)


def _pictures_section(run_id: str, info: dict) -> None:
    uploads = st.file_uploader(
        "Pictures to classify",
        type=PICTURE_TYPES,
        accept_multiple_files=True,
        key="_w_predict_pictures",
    )
    if not uploads:
        return
    named = [(f.name, f.getvalue()) for f in uploads]
    table = vision_ingest.predict_uploads(load_model_cached(run_id), named, info)
    for _, row in table[table["problem"] != ""].iterrows():
        st.warning(plain(f"`{row['file']}` was skipped: {row['problem']}."))
    readable = table[table["problem"] == ""]
    pictures = [
        previews.thumbnail_bytes(content, 160)
        for (name, content), ok in zip(named, table["problem"] == "", strict=True)
        if ok
    ]
    grid(pictures, [_top(row, info) for _, row in readable.iterrows()])
    st.dataframe(table, hide_index=True)
    csv_download(
        table, "predictions.csv", "Download predictions (CSV)", "_w_download_pictures"
    )


def _top(row: pd.Series, info: dict) -> str:
    return f"{row['file']} · {row['prediction']} {percent(row[f'probability_{row.prediction}'])}"


def _camera_section(run_id: str, info: dict) -> None:
    snapshot = st.camera_input("Take a picture", key="_w_camera")
    follow = st.toggle("Find and follow faces across snapshots", key="_w_camera_follow")
    if snapshot is None:
        return
    content = snapshot.getvalue()
    model = load_model_cached(run_id)
    if follow:
        _follow_snapshot(model, content, info)
        return
    table = vision_ingest.predict_uploads(model, [("camera.jpg", content)], info)
    row = table.iloc[0]
    if row["problem"]:
        st.error(plain(f"The snapshot could not be read: {row['problem']}."))
        return
    st.metric("Prediction", plain(row["prediction"]))
    probabilities = {c: float(row[f"probability_{c}"]) for c in info["class_names"]}
    left, right = st.columns(2)
    left.plotly_chart(charts.class_probabilities(probabilities))
    right.image(
        saliency.explain(model, content, int(info["image_size"])),
        caption="Where the model looked (red)",
    )


def _follow_snapshot(model: object, content: bytes, info: dict) -> None:
    """Each new snapshot continues the tracks of the ones before (ids stay the same)."""
    saved = st.session_state.get(CAMERA_TRACKS) or {}
    digest = hashlib.sha256(content).hexdigest()
    same = saved.get("digest") == digest  # a rerun: redo this snapshot, not a new one
    before = saved.get("before") if same else saved.get("after")
    try:
        pixels = vision_bundle.decode_image(content)
    except vision_bundle.ImageDecodeError as err:
        st.error(plain(f"The snapshot could not be read: {err}."))
        return
    shown, rows, after = tracking.track_snapshot(model, pixels, info, before)
    st.session_state[CAMERA_TRACKS] = {
        "digest": digest,
        "before": before,
        "after": after,
    }
    st.image(
        shown,
        caption=f"Snapshot {after['snapshots']}: {len(rows)} faces followed. "
        "Take another picture to follow them on.",
    )
    if not rows.empty:
        st.dataframe(rows.drop(columns=["time_s"]), hide_index=True)
    if st.button("Start over", key="_w_camera_restart"):
        st.session_state.pop(CAMERA_TRACKS, None)


def _video_section(run_id: str, info: dict) -> None:
    upload = st.file_uploader(
        "A short video (mp4, webm, mov)", type=VIDEO_TYPES, key="_w_predict_video"
    )
    mode = st.radio(
        "What to do", list(VIDEO_MODES), horizontal=True, key="_w_video_mode"
    )
    if VIDEO_MODES[mode]:
        if upload is not None:
            _follow_video(run_id, upload, VIDEO_MODES[mode])
        return
    every_s = st.select_slider(
        "Classify one frame every … seconds",
        options=[0.1, 0.25, 0.5, 1.0, 2.0],
        value=0.5,
        key="_w_video_rate",
    )
    if upload is not None:
        _classify_frames(run_id, info, upload, every_s)


def _classify_frames(run_id: str, info: dict, upload: object, every_s: float) -> None:
    try:
        with st.spinner("Decoding and classifying frames…"):
            table, frames = video.predict_video(
                load_model_cached(run_id),
                upload.getvalue(),
                upload.name,
                info,
                every_s,
            )
    except UserError as err:
        st.error(plain(err))
        return
    st.plotly_chart(probability_timeline(table, info["class_names"]))
    step = max(1, len(frames) // GRID_COLUMNS)
    picked = list(range(0, len(frames), step))[:GRID_COLUMNS]
    annotated = [
        video.annotate(frames[i][1], f"{frames[i][0]:.1f}s {table['prediction'][i]}")
        for i in picked
    ]
    grid(annotated, [f"{frames[i][0]:.1f} s" for i in picked])
    csv_download(
        table,
        "frame_predictions.csv",
        "Download predictions (CSV)",
        "_w_download_video",
    )


@st.cache_data(max_entries=2, show_spinner=False)
def _tracks_cached(run_id: str, content: bytes, name: str, find: str) -> tuple:
    info = runs.load_info(run_id)
    return tracking.track_upload(load_model_cached(run_id), content, name, info, find)


def _follow_video(run_id: str, upload: object, find: str) -> None:
    """The annotated video, a timeline per track, and the tracks as CSV."""
    try:
        with st.spinner(f"Finding, following and labelling {tracking.FINDERS[find]}…"):
            result, annotated = _tracks_cached(
                run_id, upload.getvalue(), upload.name, find
            )
    except UserError as err:
        st.error(plain(err))
        return
    st.caption(
        f"{len(result.tracks)} tracks over {result.frames} frames, processed at "
        f"{result.speed_fps:.1f} frames a second (the video has {result.fps:.0f})."
    )
    st.video(annotated, format="video/mp4")
    st.download_button(
        "Download the annotated video (MP4)",
        annotated,
        file_name="tracks.mp4",
        mime="video/mp4",
        on_click="ignore",
        key="_w_download_tracks_video",
    )
    if result.rows.empty:
        st.info(f"No {tracking.FINDERS[find].split(' (')[0]} were followed.")
        return
    st.plotly_chart(track_timeline(result.rows))
    st.dataframe(people_table(result.tracks), hide_index=True)
    csv_download(
        result.rows, "tracks.csv", "Download the tracks (CSV)", "_w_download_tracks"
    )


def track_timeline(rows: pd.DataFrame) -> go.Figure:
    """One row of markers per track over time, coloured by its (smoothed) label."""
    fig = go.Figure()
    for label, part in rows.groupby("label", sort=True):
        fig.add_trace(
            go.Scatter(
                x=part["time_s"],
                y=[f"track {i}" for i in part["track_id"]],
                mode="markers",
                marker={"symbol": "line-ns-open", "size": 12},
                name=plot_text(str(label)),
                customdata=part["probability"],
                hovertemplate="%{y} at %{x:.2f} s: %{customdata:.0%}",
            )
        )
    fig.update_layout(
        title="Tracks over time",
        xaxis_title="seconds",
        yaxis_title=None,
        **charts.LAYOUT,
    )
    return fig


def probability_timeline(table: pd.DataFrame, classes: list[str]) -> go.Figure:
    """One line per class: its probability in each sampled frame over time."""
    fig = go.Figure()
    for name in classes:
        fig.add_trace(
            go.Scatter(
                x=table["time_s"],
                y=table[f"probability_{name}"],
                mode="lines+markers",
                name=plot_text(name),
            )
        )
    fig.update_layout(
        title="Class probabilities over time",
        xaxis_title="seconds",
        yaxis_title="probability",
        **charts.LAYOUT,
    )
    fig.update_yaxes(range=[0, 1], tickformat=".0%")
    return fig
