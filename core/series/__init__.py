"""Dated series: dates, cleaning, windowing, baselines, model, report and bundle script."""
