"""Reader: eegmat (to be written)."""
