"""Loaders: read → parse → to graph → batch, one module per telemetry source."""

# Events per store transaction: bounds a load's memory, amortizes commits.
DEFAULT_BATCH_EVENTS = 250_000
