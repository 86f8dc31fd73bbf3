"""lfr: a declarative, GitOps-style reconciler for Lightfield CRM opportunities.

Four floors (docs/architecture.md §8): ``cli`` parses, calls a run and renders, over the
composition root ``workspace``; ``runs`` are the use cases; ``render`` (plan or report → str)
and ``adapters`` (the only YAML, HTTP, file and git code) stand on the pure ``core``.
``emulator`` is a self-contained stand-in for the Lightfield API and imports nothing else from
this package.
"""

__version__ = "0.1.0"
