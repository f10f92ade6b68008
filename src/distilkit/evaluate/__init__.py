"""Scoring models on labelled splits.

`classification_metrics` and `tag_metrics` need no torch: the bench worker scores bundles with them.
"""
