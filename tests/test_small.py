"""Issue 21's small ones: words for probabilities, input names, emoji, Models list."""

from __future__ import annotations

import pytest

from pages.ui import charts
from pages.ui.text import percent


@pytest.mark.parametrize(
    ("probability", "words"),
    [
        (1.0, ">99%"),
        (0.9951, ">99%"),
        (0.994, "99%"),
        (0.37, "37%"),
        (0.004, "<1%"),
        (0.0, "<1%"),
        (float("nan"), "–"),
    ],
)
def test_probabilities_in_words_never_read_certain(probability, words):
    assert percent(probability) == words


def test_probability_bars_say_more_than_99_not_100():
    fig = charts.class_probabilities({"cat": 0.9999, "dog": 0.0001})
    assert list(fig.data[0].text) == [">99%", "<1%"]
