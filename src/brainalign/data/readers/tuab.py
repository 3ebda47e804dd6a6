"""Reader: tuab (to be written)."""
