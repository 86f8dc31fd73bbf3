"""Adapters: the only YAML, HTTP, file and git code (docs/architecture.md §8).

The manifest loader (files, YAML events, the line-by-line fast path) and writer (export's round
trip), the Lightfield client (endpoints, one exchange, the retry loop, rate buckets, redaction),
the manifests' revision, and reading a saved plan file. They stand on the core only.
"""
