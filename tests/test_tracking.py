"""Video find-follow-label: faces and moving things tracked with stable ids, labelled."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from core.__main__ import main
from core.errors import DataError
from core.vision import follow, tracking, video
from tests.test_image_pages import image_run  # noqa: F401  fixtures
from tests.test_images import picture
from tests.test_pages import open_page, texts

FACE = Path(__file__).parents[1] / "sample_data/face_mask/with_mask/with_mask_0034.jpg"
BACKGROUND = (40, 70, 200)  # blue: the stub model calls it "background"
INFO = {"image_size": 32, "class_names": ["face", "background"]}


@pytest.fixture(scope="module")
def blue_model():
    """Says "background" for bluish pictures (mean blue over red by 0.15), else "face"."""
    import keras

    inputs = keras.Input((None, None, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(
        keras.layers.Rescaling(1 / 255)(inputs)
    )
    dense = keras.layers.Dense(2, activation="softmax")
    model = keras.Model(inputs, dense(pooled))
    dense.set_weights(
        [
            np.array([[20, -20], [0, 0], [-20, 20]], "float32"),
            np.array([3, -3], "float32"),
        ]
    )
    return model


def face_clip(path: Path, frames: int = 30, step: int = 8) -> Path:
    """A masked face from the sample photos moving left to right over a blue wall."""
    face = np.asarray(Image.open(FACE).convert("RGB").resize((90, 90)))
    assert face[..., 0].mean() > face[..., 2].mean()  # the stub model's "face"
    shots = []
    for index in range(frames):
        frame = np.zeros((240, 352, 3), np.uint8) + np.array(BACKGROUND, np.uint8)
        x, y = 10 + index * step, 60 + int(8 * np.sin(index / 4))
        frame[y : y + 90, x : x + 90] = face
        shots.append(frame)
    video.write_test_video(path, shots, fps=10)
    return path


def test_a_face_moving_across_a_clip_is_one_track_with_the_right_label(
    blue_model, tmp_path
):
    clip = face_clip(tmp_path / "face.mp4")
    out = tmp_path / "annotated.mp4"
    result = tracking.track_video(blue_model, clip, "face.mp4", INFO, "faces", out)
    assert result.frames == 30
    assert list(result.rows.columns) == tracking.COLUMNS
    assert result.rows["track_id"].unique().tolist() == [1]
    assert result.rows["frame"].nunique() >= 0.8 * result.frames
    assert result.rows["frame"].min() == 0  # shown from its first detection
    assert set(result.rows["label"]) == {"face"}  # from the crop, not the blue frame
    first, last = result.rows.iloc[0], result.rows.iloc[-1]
    assert last["x"] - first["x"] > 150  # the box followed the face
    assert result.tracks.loc[0, "label"] == "face"
    annotated = video.sample_frames(out.read_bytes(), "annotated.mp4", every_s=0.001)
    assert len(annotated) == 30
    assert annotated[0][1].shape == (240, 352, 3)


def test_moving_things_are_found_by_background_subtraction(blue_model, tmp_path):
    rng = np.random.default_rng(0)
    wall = rng.integers(0, 60, (240, 320, 3)).astype(np.uint8)
    shots = []
    for index in range(40):
        frame = wall.copy()
        frame[100:150, 20 + index * 6 : 70 + index * 6] = (230, 60, 30)
        shots.append(frame)
    video.write_test_video(tmp_path / "moving.mp4", shots, fps=10)
    result = tracking.track_video(
        blue_model, tmp_path / "moving.mp4", "moving.mp4", INFO, "motion"
    )
    longest = result.tracks.sort_values("frames").iloc[-1]
    assert longest["frames"] >= 0.8 * 40
    assert longest["label"] == "face"  # a red square


def test_tracker_keeps_ids_through_a_missed_detection_and_numbers_new_ones():
    tracker = follow.Tracker(min_hits=2)
    box = np.array([[10.0, 10, 40, 40]])
    other = np.array([[200.0, 100, 40, 40]])
    assert tracker.update(box) == []  # seen once: not shown yet
    assert [t.track_id for t in tracker.update(box + [5, 0, 0, 0])] == [1]
    assert [t.track_id for t in tracker.update(np.zeros((0, 4)))] == [1]  # coasting
    shown = tracker.update(np.vstack([box + [15, 0, 0, 0], other]))
    assert [t.track_id for t in shown] == [1]
    shown = tracker.update(np.vstack([box + [20, 0, 0, 0], other]))
    assert sorted(t.track_id for t in shown) == [1, 2]
    for _ in range(follow.MAX_MISSED + 1):
        tracker.update(other)
    assert [t.track_id for t in tracker.shown()] == [2]  # track 1 ended


def test_the_tracker_state_survives_json_for_snapshots(blue_model):
    face = np.asarray(Image.open(FACE).convert("RGB").resize((90, 90)))
    states, ids = [None], []
    for x in (20, 40, 60):
        frame = np.zeros((240, 320, 3), np.uint8) + np.array(BACKGROUND, np.uint8)
        frame[60:150, x : x + 90] = face
        shown, rows, state = tracking.track_snapshot(
            blue_model, frame, INFO, states[-1]
        )
        states.append(json.loads(json.dumps(state)))
        ids.append(rows["track_id"].tolist())
    assert ids == [[1], [1], [1]]
    assert states[-1]["snapshots"] == 3
    assert shown.shape == (240, 320, 3)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "empty"),
        (picture(), "not a video"),
        (b"\x00\x00\x00\x18ftypmp42" + b"junk" * 200, "could not be decoded"),
    ],
)
def test_bad_clips_are_refused_in_words(blue_model, content, words):
    with pytest.raises(DataError, match=words):
        tracking.track_video(blue_model, content, "clip.mp4", INFO)


def test_long_clips_and_unknown_finders_are_refused(blue_model, tmp_path, monkeypatch):
    clip = face_clip(tmp_path / "face.mp4", frames=12)
    monkeypatch.setattr(video, "MAX_TRACK_FRAMES", 10)
    with pytest.raises(DataError, match="12 frames .* up to 10 frames"):
        tracking.track_video(blue_model, clip, "face.mp4", INFO)
    with pytest.raises(DataError, match="Expected one of"):
        tracking.track_video(blue_model, clip, "face.mp4", INFO, find="cars")


@pytest.mark.trains
def test_cli_predict_track_writes_the_tracks_and_the_annotated_video(
    image_run,  # noqa: F811
    tmp_path,
    capsys,
):
    clip = face_clip(tmp_path / "face.mp4", frames=20)
    out, annotated = tmp_path / "tracks.csv", tmp_path / "out.mp4"
    argv = ["predict", image_run, str(clip), "--track", "-o", str(out)]
    assert main([*argv, "--annotated", str(annotated)]) == 0
    tracks = pd.read_csv(out)
    assert list(tracks.columns) == tracking.COLUMNS
    assert tracks["track_id"].nunique() == 1
    assert len(video.sample_frames(annotated.read_bytes(), "out.mp4", 0.001)) == 20
    assert "Followed 1 tracks over 20 frames" in capsys.readouterr().out
    assert main(["predict", image_run, str(FACE), "--track", "-o", str(out)]) == 1
    assert "is not a video file" in capsys.readouterr().err


@pytest.mark.trains
def test_predict_page_follows_faces_in_a_video(image_run, tmp_path):  # noqa: F811
    from pages.ui import state

    at = open_page("pages/predict.py", **{state.ACTIVE_RUN_ID: image_run})
    at.radio(key="_w_video_mode").set_value("Find, follow and label faces").run()
    clip = face_clip(tmp_path / "face.mp4", frames=20)
    at.file_uploader(key="_w_predict_video").set_value(
        ("face.mp4", clip.read_bytes(), "video/mp4")
    ).run()
    assert not at.exception
    assert "1 tracks over 20 frames" in texts(at.caption)
    assert len(at.get("video")) == 1
    assert len(at.get("download_button")) >= 2  # the video and the CSV


@pytest.mark.trains
def test_camera_follows_faces_across_snapshots(image_run):  # noqa: F811
    import io

    from pages.ui import state
    from pages.ui.views import images as images_view

    face = Image.open(FACE).convert("RGB").resize((90, 90))
    shots = []
    for x in (20, 50):
        frame = Image.new("RGB", (320, 240), BACKGROUND)
        frame.paste(face, (x, 60))
        buffer = io.BytesIO()
        frame.save(buffer, "JPEG", quality=95)
        shots.append(buffer.getvalue())
    at = open_page("pages/predict.py", **{state.ACTIVE_RUN_ID: image_run})
    at.toggle(key="_w_camera_follow").set_value(True).run()
    for shot in shots:
        at.camera_input[0].set_value(("shot.jpg", shot, "image/jpeg")).run()
        assert not at.exception
    saved = at.session_state[images_view.CAMERA_TRACKS]
    assert saved["after"]["snapshots"] == 2
    assert [t["track_id"] for t in saved["after"]["tracker"]["tracks"]] == [1]
    at.run()  # a rerun redoes the same snapshot, it does not count a third
    assert at.session_state[images_view.CAMERA_TRACKS]["after"]["snapshots"] == 2
