"""Reader: bids (to be written)."""
