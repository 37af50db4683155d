"""Train: one click trains the suggested template with its defaults; watch it learn."""

import streamlit as st

from core import datasets
from core.catalog import suggest, templates_for
from pages.ui import kinds
from pages.ui.cache import dataset_or_stop, template_notes_cached, template_warning
from pages.ui.forms import train_form
from pages.ui.runs import show_active_run, start
from pages.ui.state import (
    COLUMN_TYPE_OVERRIDES,
    DATASET_ID,
    TEMPLATE_NAME,
    get,
    remember,
    template_title,
)
from pages.ui.text import plain
from pages.ui.widgets import fixes_for, show_fixes_chosen

st.title("Train")

# 1. The dataset (and target) chosen on the Data page, and the suggested template.
dataset_id = get(DATASET_ID)
if not dataset_id:
    st.info("Choose a data set first.")
    st.page_link("pages/data.py", label="Go to Data", icon=":material/table:")
    st.stop()
dataset_kind = datasets.dataset_kind(dataset_id)
dataset = dataset_or_stop(dataset_id)
target = kinds.views_for(dataset_kind).target(dataset_id)
suggested, reason = suggest(dataset, target, dataset_kind)
st.info(
    f"Suggested: **{suggested.title}**. {plain(reason)}", icon=":material/lightbulb:"
)
warning_slot = st.container()  # a likely-at-chance warning, before the Train button
form_slot = st.container()  # the Train button comes first, the template choice below

# 2. Another template, for those who want one (the suggested one is preselected).
templates = {t.name: t for t in templates_for(dataset_kind)}
names = list(templates)
with st.expander("Template: choose another model"):
    for column, option in zip(
        st.columns(len(templates)), templates.values(), strict=True
    ):
        with column, st.container(border=True):
            badge = " :blue-badge[suggested]" if option is suggested else ""
            st.markdown(f"**{option.title}**{badge}")
            st.caption(option.description)
    name = st.radio(
        "Template",
        names,
        index=names.index(suggested.name),
        format_func=template_title,
        horizontal=True,
        key=f"_w_template_{target or dataset_kind}",
    )
template = templates[remember(TEMPLATE_NAME, name)]
overrides = get(COLUMN_TYPE_OVERRIDES, {})
chosen = fixes_for(template)  # the data check's fixes, where the template applies them
warning = template_warning(template.name, dataset_id, target, overrides)
if warning:
    with warning_slot:
        kinds.views_for(template.data_kind).warn(warning)
notes_slot = st.container()  # filled after the Train button: the check takes seconds

# 3. One Train button, then what a person must decide, then the rest collapsed.
decided = kinds.views_for(template.data_kind).train_extra(dataset_id, target, template)
with form_slot:
    st.caption(f"Trains **{template.title}** with the settings that suit most data.")
    show_fixes_chosen(template)
    submitted, values = train_form(template, "_w_train_form", decided)
if submitted:
    values["column_kinds"] = overrides  # the run parameter's name for column types
    values |= {"fixes": chosen} if chosen else {}
    for problem in start(template.name, dataset_id, target, values):
        form_slot.error(plain(problem))
with notes_slot:
    notes = template_notes_cached(template.name, dataset_id, target, overrides, chosen)
    notes = [note for note in notes if note != warning]  # shown above already
    noted = f"{len(notes)} note{'s' if len(notes) != 1 else ''}"
    with st.expander(f"What {template.title.lower()} will see ({noted})"):
        for note in notes:
            st.markdown(f"- {plain(note)}")

# 4. Live progress of the active run (another data set's run is labelled).
show_active_run(dataset_id, target, template.name)
