"""The Detective-compatible REST management API (see api.rest.routes)."""
