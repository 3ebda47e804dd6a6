"""Reader: kaneshiro (to be written)."""
