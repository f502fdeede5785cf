"""Annotated corpus: reading, validation, statistics and sentence segmentation."""
