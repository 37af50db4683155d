"""Texts: a CSV text column or .txt class folders, the text classifier, its bundle script."""
