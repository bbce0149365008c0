"""Loaders: read → parse → to graph → batch, one module per telemetry source."""

# CloudTrail events and findings per store transaction: bounds a load's memory, amortizes
# commits. (VPC flow records do not count: their batches are bounded in staged flows, which
# stay compact arrays until written; see LoadOptions.batch_flows.)
DEFAULT_BATCH_EVENTS = 250_000
