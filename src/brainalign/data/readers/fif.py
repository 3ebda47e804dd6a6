"""Reader: fif (to be written)."""
