"""``python -m reconciler.cli``: the same program as the ``lfr`` script."""

from . import main

main()
