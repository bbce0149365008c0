"""Baselines: hourly series, seasonal expected values, new behaviors, investigations."""
