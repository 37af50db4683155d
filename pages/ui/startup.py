"""What the server does once, after it has drawn its first page."""

from __future__ import annotations


def warm_up() -> None:
    """Starts importing Keras in the background (once per server process).

    app.py calls it after each page is drawn, so the seconds-long import neither slows
    the first page nor makes the first prediction wait. Keras itself is imported in
    `core` (pages never import it).
    """
    from core import prediction

    prediction.warm_up()
