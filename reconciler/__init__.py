"""lfr: a declarative, GitOps-style reconciler for Lightfield CRM opportunities.

Four floors (docs/architecture.md §8): ``cli`` parses, calls a run and renders, over the
composition root ``workspace``; ``runs`` are the use cases; ``render`` (plan or report → str)
and ``adapters`` (the only YAML, HTTP, file and git code) stand on the pure ``core``.
``emulator`` is a self-contained stand-in for the Lightfield API and imports nothing else from
this package.
"""

from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "lightfield-reconciler"

try:  # one source of truth: pyproject.toml's version, as installed
    __version__ = version(DISTRIBUTION)
except PackageNotFoundError:  # a bare source tree on sys.path, never installed
    __version__ = "0+unknown"
