"""Reader: thoughtviz (to be written)."""
