"""Train: choose the target and a template, set parameters, and watch the model learn."""

import streamlit as st

from core import data, runs, timeseries
from core.templates import get_template, list_templates
from pages import _images, _ui
from pages._text import plain

st.title("Train")

# 1. The dataset and target chosen on the Data page.
dataset_id = _ui.get(_ui.DATASET_ID)
if not dataset_id:
    st.info("Choose a data set first.")
    st.page_link("pages/data.py", label="Go to Data", icon=":material/table:")
    st.stop()
if _images.is_image_dataset(dataset_id):
    _images.render_train(dataset_id)
    st.stop()
frame = _ui.table_or_stop(dataset_id)
columns = list(frame.columns)
target = st.selectbox(
    f"Column to predict in {plain(data.dataset_name(dataset_id))}",
    columns,
    index=_ui.index_of(
        columns,
        _ui.get(_ui.TARGET_COLUMN),
        columns.index(_ui.default_target(_ui.inferred_kinds(dataset_id))),
    ),
    key="_w_train_target",
)
_ui.remember(_ui.TARGET_COLUMN, target)

# 2. Templates as cards, the suggested one preselected.
suggested, reason = timeseries.suggest(frame, target) or data.suggest_template(
    frame, target
)
st.info(
    f"Suggested: **{get_template(suggested).title}**. {plain(reason)}",
    icon=":material/lightbulb:",
)
kinds = ("table", "time_series")
templates = {t.name: t for t in list_templates() if t.data_kind in kinds}
for column, template in zip(
    st.columns(len(templates)), templates.values(), strict=True
):
    with column, st.container(border=True):
        badge = " :blue-badge[suggested]" if template.name == suggested else ""
        st.markdown(f"**{template.title}**{badge}")
        st.caption(template.description)
names = list(templates)
name = st.radio(
    "Template",
    names,
    index=names.index(suggested),
    format_func=_ui.template_title,
    horizontal=True,
    key=f"_w_template_{target}",
)
template = templates[_ui.remember(_ui.TEMPLATE_NAME, name)]
overrides = _ui.get(_ui.COLUMN_KINDS, {})
notes = _ui.template_notes_cached(template.name, dataset_id, target, overrides)
with st.expander(f"What {template.title.lower()} will see ({len(notes)} notes)"):
    for note in notes:
        st.markdown(f"- {plain(note)}")

# 3. Parameters in one form; one Train button.
with st.form("_w_train_form"):
    values = _ui.param_form(template)
    submitted = st.form_submit_button(
        "Train", type="primary", icon=":material/play_arrow:"
    )
if submitted:
    values["column_kinds"] = overrides
    for problem in _ui.start_training(template, dataset_id, frame, target, values):
        st.error(plain(problem))

# 4. Live progress of the active run.
run_id = _ui.get(_ui.ACTIVE_RUN_ID)
if run_id:
    st.subheader("Progress")
    try:
        _ui.live_progress(run_id)
    except runs.RunError as err:
        st.error(plain(err))
