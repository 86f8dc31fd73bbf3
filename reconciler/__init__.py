"""lfr: a declarative, GitOps-style reconciler for Lightfield CRM opportunities.

Four floors (docs/architecture.md §8): ``cli`` parses, calls a run and renders, over the
composition root ``workspace``; ``runs`` are the use cases; ``render`` (plan or report → str)
and ``adapters`` (the only YAML, HTTP, file and git code) stand on the pure ``core``.
``emulator`` is a self-contained stand-in for the Lightfield API and imports nothing else from
this package.
"""

DISTRIBUTION = "lightfield-reconciler"


def __getattr__(name: str) -> str:
    """``__version__``, looked up on first use: ``importlib.metadata`` costs ~45 ms of import
    (email, zipfile, csv), which `lfr --help` and every command but the few that print the
    version would pay for nothing."""
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:  # one source of truth: pyproject.toml's version, as installed
        found = version(DISTRIBUTION)
    except PackageNotFoundError:  # a bare source tree on sys.path, never installed
        found = "0+unknown"
    globals()["__version__"] = found
    return found
