"""Use cases: async, never print (docs/architecture.md §8).

plan, apply (with the writes), saved plans, drift, export, validate, and the fetch and resolve
stages they share. Each returns data (a plan, a report, problems) for the CLI to render.
"""
