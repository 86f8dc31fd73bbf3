"""The lfr benchmark suite (issue 6): ``python benchmarks/run.py`` (full) or ``--smoke``.

Not part of the ``reconciler`` package: it drives ``lfr`` and the emulator from the outside, as
a user and a CI job would, and prints one table of figures. See BENCHMARKS.md.
"""
