"""One module per kind of data: its Data, Results and Predict views (see `kinds`)."""
