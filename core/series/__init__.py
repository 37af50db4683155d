"""Dated series: cleaning, forecasting model, report and bundle script."""
