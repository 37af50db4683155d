"""AppTest for the picture sections: data, train, results (mistakes, saliency), predict."""

from __future__ import annotations

import numpy as np
import pytest

from core import datasets, runs
from core.vision import ingest, video
from pages.ui import state
from pages.ui.views import images as images_view
from tests.conftest import train_here
from tests.test_images import class_files, make_zip, picture
from tests.test_pages import open_page, texts


def _train_pictures() -> str:
    dataset_id = ingest.store_files("tiny", class_files())
    params = {"epochs": 1, "batch_size": 8, "patience": 1, "image_size": 32}
    return train_here(runs.RunSpec("image_classification", dataset_id, None, params))


@pytest.fixture
def image_run(trained_workspace, monkeypatch) -> str:
    return trained_workspace("pictures", _train_pictures).use(monkeypatch)


def test_home_face_mask_sample_opens_the_picture_check():
    at = open_page()
    at.button(key="_w_sample_face_mask").click().run()
    assert not at.exception
    dataset_id = at.session_state[state.DATASET_ID]
    assert datasets.dataset_kind(dataset_id) == "images"
    assert "Sample pictures" in texts(at.subheader)
    assert len(at.get("image")) >= 2


def test_data_page_zip_upload_shows_counts_check_and_thumbnails():
    at = open_page("pages/data.py")
    content = make_zip(class_files(per_class=4))
    at.file_uploader(key="_w_image_files").set_value(
        ("photos.zip", content, "application/zip")
    ).run()
    assert not at.exception
    assert "Data check" in texts(at.subheader)
    assert "Few pictures" in texts(at.warning)
    assert "8 pictures · 2 classes" in texts(at.caption)


def test_data_page_folder_upload():
    at = open_page("pages/data.py")
    files = [(name, content, "image/png") for name, content in class_files(3, "me/")]
    at.file_uploader(key="_w_image_folder").set_value(files).run()
    assert not at.exception
    assert "6 pictures · 2 classes" in texts(at.caption)


def test_data_page_unsafe_zip_is_refused_with_a_message(workspace_root):
    at = open_page("pages/data.py")
    content = make_zip(class_files() + [("../evil.png", picture())])
    at.file_uploader(key="_w_image_files").set_value(
        ("evil.zip", content, "application/zip")
    ).run()
    assert not at.exception
    assert "unsafe path" in texts(at.error)
    assert not list(workspace_root.parent.rglob("evil.png"))


def test_data_page_one_class_is_an_error():
    at = open_page("pages/data.py")
    content = make_zip(class_files()[:6])
    at.file_uploader(key="_w_image_files").set_value(
        ("one.zip", content, "application/zip")
    ).run()
    assert not at.exception
    assert "Only one class" in texts(at.error)


def test_train_page_offers_image_templates(monkeypatch):
    from core.vision import weights

    monkeypatch.setattr(weights, "find_cached", lambda backbone: None)
    dataset_id = ingest.store_files("tiny", class_files())
    at = open_page("pages/train.py", **{state.DATASET_ID: dataset_id})
    assert at.radio(key="_w_template_images").value == "image_classification"
    assert "Picture size (pixels)" in [s.label for s in at.selectbox]
    assert "need a pre-trained network" in texts(at.warning)


@pytest.mark.trains
def test_results_page_shows_mistakes_and_saliency(image_run):
    at = open_page("pages/results.py", **{state.ACTIVE_RUN_ID: image_run})
    beats = runs.read_evaluation(image_run)["verdict"]["beats_baseline"]
    assert "most common class" in texts(at.success if beats else at.warning)
    assert "Where the model looked" in texts(at.subheader)
    at.button(key="_w_saliency").click().run()
    assert not at.exception
    assert len(at.get("image")) >= 1


@pytest.mark.trains
def test_predict_page_pictures_camera_and_video(image_run, tmp_path):
    at = open_page("pages/predict.py", **{state.ACTIVE_RUN_ID: image_run})
    uploads = [
        ("a.png", picture((220, 30, 30)), "image/png"),
        ("bad.png", b"not a picture", "image/png"),
    ]
    at.file_uploader(key="_w_predict_pictures").set_value(uploads).run()
    assert not at.exception
    assert "`bad.png` was skipped" in texts(at.warning)
    assert len(at.get("download_button")) >= 1

    at.camera_input[0].set_value(
        ("shot.jpg", picture(fmt="JPEG", size=(40, 30)), "image/jpeg")
    ).run()
    assert not at.exception
    assert at.metric[0].value in {"red", "blue"}

    clip = tmp_path / "clip.mp4"
    video.write_test_video(
        clip, [np.full((32, 32, 3), 10 * i, np.uint8) for i in range(8)]
    )
    at.file_uploader(key="_w_predict_video").set_value(
        ("clip.mp4", clip.read_bytes(), "video/mp4")
    ).run()
    assert not at.exception
    assert len(at.get("plotly_chart")) >= 2  # camera probabilities + timeline


@pytest.mark.trains
def test_predict_page_video_that_is_a_picture(image_run):
    at = open_page("pages/predict.py", **{state.ACTIVE_RUN_ID: image_run})
    at.file_uploader(key="_w_predict_video").set_value(
        ("clip.mp4", picture(), "video/mp4")
    ).run()
    assert not at.exception
    assert "not a video" in texts(at.error)


def test_probability_timeline_has_a_line_per_class():
    import pandas as pd

    table = pd.DataFrame(
        {"time_s": [0, 0.5], "probability_a": [0.2, 0.9], "probability_b": [0.8, 0.1]}
    )
    assert len(images_view.probability_timeline(table, ["a", "b"]).data) == 2
