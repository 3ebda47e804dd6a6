"""Reader: eegcvpr40 (to be written)."""
