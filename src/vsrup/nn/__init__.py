"""Network blocks shared by several methods."""
