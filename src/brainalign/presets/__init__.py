"""Preprocessing presets shipped as YAML package data (see brainalign.preprocessing.presets)."""
