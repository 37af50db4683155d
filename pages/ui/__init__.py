"""UI components the page scripts share; never shown as pages.

state (session keys), cache (cached core loaders), forms, runs (run pickers and live
progress), widgets (alerts and tables), text (escaping and number formats), charts
(plotly only), kinds (the view registry) and views/ (one module per kind of data).
"""
