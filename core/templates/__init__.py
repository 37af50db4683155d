"""The template contract (`base`), its parameters (`params`), its registry (`registry`) and
shared `checks`.

The built-in templates are listed in `core.catalog`.
"""
