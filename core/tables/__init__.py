"""Tables: classification and regression on the rows of a CSV."""
