"""lfr: a declarative, GitOps-style reconciler for Lightfield CRM opportunities.

The package is layered (design.md §8): ``cli`` composes everything; ``client`` speaks HTTP to the
Lightfield API; ``emulator`` is a self-contained stand-in for that API and imports nothing else
from this package.
"""

__version__ = "0.1.0"
