"""The pure core: what lfr knows, with no I/O and no event loop (docs/architecture.md §8).

The shared vocabulary (``Problem``, ``Origin``, ``Document``), the manifest model, each value
type's rules and the org's definitions, desired state, live records, the diff, the plan with its
rails, the reports, the manifests' JSON Schema, and a saved plan's strict shape.
"""
