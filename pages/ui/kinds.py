"""The view registry: pages look up the views of a data set's or a run's kind.

Every kind's views are registered here, in one place. A kind with none registered
(a new template's, say) gets the generic views, so it works without page edits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pages.ui.views import anomaly, corpus, generic, images, series, table, text


@dataclass(frozen=True)
class KindViews:
    """What the pages show for one kind of data.

    Attributes:
        data: Data page, after a data set of this kind is chosen: `data(dataset_id)`.
        results: Results page: `results(run_id, evaluation)`.
        predict: Predict page: `predict(run_id, info)`.
        target: Train page, above the templates: picks and returns the target column
            (`target(dataset_id)`), or None for data without one.
        train_extra: Train page: `train_extra(dataset_id, target, template)` returns
            the settings a person must decide under the Train button, one widget
            function per parameter name (e.g. the forecast horizon).
        upload: Data page: an upload widget that returns a stored dataset id, or None.
        warn: Train page, above the Train button: shows the template's warning that
            the model would likely be no better than guessing (`warn(sentence)`), and
            the remedy where the kind has one.
    """

    data: Callable[[str], None] = generic.data_view
    results: Callable[[str, dict[str, Any]], None] = generic.results_view
    predict: Callable[[str, dict[str, Any]], None] = generic.predict_view
    target: Callable[[str], str | None] = generic.no_target
    train_extra: Callable[..., dict[str, Callable[[Any], Any]]] = generic.no_extra
    upload: Callable[[], str | None] | None = None
    warn: Callable[[str], None] = generic.warn


_VIEWS: dict[str, KindViews] = {}


def register_views(kind: str, views: KindViews) -> None:
    """Makes `views` the views of data sets and runs of `kind`."""
    _VIEWS[kind] = views


def views_for(kind: str) -> KindViews:
    """The views registered for `kind`, or the generic ones."""
    return _VIEWS.get(kind, KindViews())


def uploads() -> list[Callable[[], str | None]]:
    """Every kind's upload widget, in registration order."""
    return [views.upload for views in _VIEWS.values() if views.upload]


register_views(
    "table",
    KindViews(
        data=table.data_view,
        results=table.results_view,
        predict=table.predict_view,
        target=table.target_picker,
        upload=table.upload,
    ),
)
register_views(
    "series",
    KindViews(
        results=series.results_view,
        predict=series.predict_view,
        train_extra=series.train_extra,
    ),
)
register_views(
    "images",
    KindViews(
        data=images.data_view,
        results=images.results_view,
        predict=images.predict_view,
        upload=images.upload,
        warn=images.warn,
    ),
)
register_views(
    "anomaly",
    KindViews(results=anomaly.results_view, predict=anomaly.predict_view),
)
register_views(
    "corpus",
    KindViews(
        data=corpus.data_view,
        results=corpus.results_view,
        predict=corpus.predict_view,
        upload=corpus.upload,
    ),
)
register_views(
    "text",
    KindViews(
        data=text.data_view,
        results=text.results_view,
        predict=text.predict_view,
        train_extra=text.train_extra,
        upload=text.upload,
    ),
)
