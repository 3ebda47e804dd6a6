"""Reader: wfdb_records (to be written)."""
