"""Next-word suggestion from a text corpus: ingest, model, baselines, report, bundle."""
