"""A faithful local emulator of the Lightfield CRM REST API (architecture.md §7).

``Emulator`` is an ASGI app on SQLite: embed it in-process through ``httpx.ASGITransport``
(``emu.app``) or serve it with uvicorn (``server.running_server`` / ``server.serve``). It imports
nothing else from ``reconciler``: it states the API contract on its own. Behaviour choices where
Lightfield's docs are open are listed in docs/emulator.md.
"""

from __future__ import annotations

from .emulator import Emulator

__all__ = ["Emulator"]
