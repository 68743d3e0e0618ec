"""fbocli: upload offline conversions to Meta, mapped as Segment's destination did.

The Python API (docs/python-api.md)::

    import fbocli

    config = fbocli.load_config("fbocli.toml")
    summary = fbocli.validate(["orders.jsonl"], config)
    summary = fbocli.upload(["orders.jsonl"], config, token="EAA...")
    print(summary.to_dict())  # the same object as `fbocli upload --json`

Errors are :class:`FbocliError` and its subclasses, each with an ``exit_status``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "Event",
    "FbocliError",
    "Rejected",
    "RunSummary",
    "Settings",
    "load_config",
    "map_message",
    "upload",
    "validate",
]

if TYPE_CHECKING:
    from fbocli.api import load_config, map_message, upload, validate
    from fbocli.errors import FbocliError, Rejected
    from fbocli.mapping.message import Event
    from fbocli.settings import Settings
    from fbocli.stats import RunSummary

_HOMES = {
    "load_config": "fbocli.api",
    "map_message": "fbocli.api",
    "upload": "fbocli.api",
    "validate": "fbocli.api",
    "FbocliError": "fbocli.errors",
    "Rejected": "fbocli.errors",
    "Event": "fbocli.mapping.message",
    "Settings": "fbocli.settings",
    "RunSummary": "fbocli.stats",
}


def __getattr__(name: str) -> Any:
    # Imported on first use: `import fbocli` (and the CLI's start) stays cheap.
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'fbocli' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(home), name)
