"""HTTP API (GraphQL and the Detective-compatible REST API) and the gumshoe command."""
