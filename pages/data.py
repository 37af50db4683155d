"""Data: upload a CSV or pick a sample, check each column's kind, choose the target."""

import streamlit as st

from core import data
from pages import _charts, _images, _ui
from pages._text import plain

st.title("Data")

# 1. Where the data comes from: an upload wins over a sample.
upload = st.file_uploader("Upload a CSV file", type=["csv"], key="_w_upload")
image_dataset = _images.render_upload()
if image_dataset:
    _ui.use_dataset(image_dataset)
elif upload is not None:
    try:
        dataset_id = data.store_upload(upload.name, upload.getvalue())
        _ui.load_table_cached(dataset_id)  # refuse unusable files before using them
    except data.DataError as err:
        st.error(plain(err))
        st.stop()
    _ui.use_dataset(dataset_id)
else:
    sample = st.selectbox(
        "…or start from a sample",
        list(data.SAMPLES),
        index=None,
        format_func=_ui.sample_title,
        placeholder="Choose a sample data set",
        key="_w_sample",
    )
    if sample:
        _ui.use_dataset(data.store_sample(sample), data.SAMPLES[sample][1])

dataset_id = _ui.get(_ui.DATASET_ID)
if not dataset_id:
    st.info("Upload a CSV file or choose a sample to begin.")
    st.stop()
if _images.is_image_dataset(dataset_id):
    _images.render_dataset(dataset_id)
    st.stop()

# 2. Load it (cached) and show a preview.
frame = _ui.table_or_stop(dataset_id)
st.subheader(plain(data.dataset_name(dataset_id)))
st.caption(f"{len(frame):,} rows · {frame.shape[1]} columns")
st.dataframe(_ui.people_table(frame.head(20)), hide_index=True)

# 3. Column kinds: guessed, editable in the stats table.
st.subheader("Columns")
st.caption(
    "The kind of each column was guessed from its values. If a guess is wrong, change it "
    "in the **kind** column; identifiers and dates are left out of the model."
)
inferred = _ui.inferred_kinds(dataset_id)
overrides = {c: k for c, k in _ui.get(_ui.COLUMN_KINDS, {}).items() if c in inferred}
stats = _ui.column_stats_cached(dataset_id, overrides)
edited = st.data_editor(
    stats,
    column_config={
        "kind": st.column_config.SelectboxColumn(
            "kind", options=list(data.KINDS), required=True
        ),
        **{
            c: st.column_config.NumberColumn(format="localized")  # 14,250 not 1.425e+04
            for c in ("mean", "min", "max")
        },
    },
    disabled=[c for c in stats.columns if c != "kind"],
    hide_index=True,
    num_rows="fixed",
    key=f"_w_kinds_{dataset_id}",
)
overrides = {
    column: kind
    for column, kind in zip(edited["column"], edited["kind"], strict=True)
    if kind != inferred[column]
}
_ui.remember(_ui.COLUMN_KINDS, overrides)
kinds = data.resolve_kinds(frame, overrides)

# 4. The target and its distribution.
columns = list(frame.columns)
target = st.selectbox(
    "Column to predict (target)",
    columns,
    index=_ui.index_of(
        columns, _ui.get(_ui.TARGET_COLUMN), columns.index(_ui.default_target(kinds))
    ),
    key="_w_target",
)
_ui.remember(_ui.TARGET_COLUMN, target)
st.plotly_chart(_charts.target_distribution(frame[target], kinds[target]))

# 5. Data-quality preflight in plain words.
st.subheader("Data check")
findings = data.preflight(frame, target, kinds)
if findings:
    _ui.show_findings(findings)
else:
    st.success("No data-quality problems found.", icon=":material/check_circle:")
st.page_link(
    "pages/train.py", label="Next: train a model", icon=":material/arrow_forward:"
)
