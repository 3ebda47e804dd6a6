"""Reader: eegnb (to be written)."""
