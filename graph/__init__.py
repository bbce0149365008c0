"""The behavior graph: data model, store contract and backends (shared by every layer)."""
