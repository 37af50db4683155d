"""Anomaly detection without labels: an autoencoder on the rows of a table."""
