"""Train: one click trains the suggested template with its defaults; watch it learn."""

import streamlit as st

from core import data, timeseries
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
suggested, reason = timeseries.suggest(frame, target) or data.suggest_template(
    frame, target
)
st.info(
    f"Suggested: **{get_template(suggested).title}**. {plain(reason)}",
    icon=":material/lightbulb:",
)
form_slot = st.container()  # the Train button comes first, the template choice below

# 2. Another template, for those who want one (the suggested one is preselected).
kinds = ("table", "time_series")
templates = {t.name: t for t in list_templates() if t.data_kind in kinds}
names = list(templates)
with st.expander("Template: choose another kind of model"):
    for column, option in zip(
        st.columns(len(templates)), templates.values(), strict=True
    ):
        with column, st.container(border=True):
            badge = " :blue-badge[suggested]" if option.name == suggested else ""
            st.markdown(f"**{option.title}**{badge}")
            st.caption(option.description)
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

# 3. One Train button, then what a person must decide, then the rest collapsed.
is_series = template.data_kind == "time_series"
plan = _ui.window_plan(dataset_id, target) if is_series else None
decided = {"horizon": _ui.horizon_widget(plan)} if plan else {}
with form_slot:
    st.caption(f"Trains **{template.title}** with the settings that suit most data.")
    submitted, values = _ui.train_form(template, "_w_train_form", decided)
if submitted:
    values["column_kinds"] = overrides
    problems = _ui.start_training(template, dataset_id, frame, target, values)
    for problem in problems:
        form_slot.error(plain(problem))

# 4. Live progress of the active run (another data set's run is labelled).
_ui.show_active_run(dataset_id, target, template.name)
