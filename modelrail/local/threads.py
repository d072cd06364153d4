"""Threads that carry their creator's context.

moto's Step Functions interpreter evaluates a program, each state and each branch on
threads of its own. The local cloud keeps per-execution facts (whose role a task calls
with) in context variables; a thread started with :class:`ContextThread` runs in a copy
of the context of the code that created it, as an ``asyncio`` task would.
"""

from __future__ import annotations

import contextvars
import threading
from typing import Any


class ContextThread(threading.Thread):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._context = contextvars.copy_context()

    def run(self) -> None:
        self._context.run(super().run)


class ThreadingWithContext:
    """Stands in for the ``threading`` module inside one module: its ``Thread`` is a
    :class:`ContextThread`; everything else is what the module had (the real module or
    another stand-in)."""

    def __init__(self, wrapped: Any) -> None:
        self._wrapped = wrapped
        self.Thread = ContextThread

    def __getattr__(self, name: str) -> Any:
        return getattr(self._wrapped, name)
