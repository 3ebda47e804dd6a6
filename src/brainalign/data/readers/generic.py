"""Reader: generic (to be written)."""
