"""Predictive Studio engine: data, templates, training, evaluation, export."""
