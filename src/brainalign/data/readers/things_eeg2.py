"""Reader: things_eeg2 (to be written)."""
