"""Reader: eegmmidb (to be written)."""
