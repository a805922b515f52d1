"""Weights: the models.toml registry, download, verification, import and conversion."""
