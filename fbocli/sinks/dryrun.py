"""`upload --dry-run`: each request that would be sent, as one JSON line (never the token)."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from fbocli import wire
from fbocli.errors import LocalWriteError, StateError
from fbocli.mapping.message import Event
from fbocli.privatefile import open_private
from fbocli.settings import Settings
from fbocli.sinks import CountingSink, body_extra, request_url
from fbocli.stats import RunSummary


class DryRunSink(CountingSink):
    """Counts like validate and, given an output, writes ``{"url": ..., "body": ...}``
    per request: the body is byte for byte what upload would POST."""

    def __init__(
        self, summary: RunSummary, settings: Settings, output: str | Path | BinaryIO | None
    ) -> None:
        super().__init__(summary)
        self.settings = settings
        self._extra = body_extra(settings)
        self._out: BinaryIO | None = None
        self._owned = False
        if isinstance(output, str | Path):
            path = Path(output)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                # hashed match keys and custom properties: private (0600), like rejects
                self._out = open(open_private(path), "wb")  # noqa: SIM115
            except OSError as exc:
                raise StateError(f"cannot write --output {path}: {exc.strerror or exc}") from None
            self._owned = True
        else:
            self._out = output

    def submit(self, dataset_id: str, batch: list[Event]) -> None:
        if self._out is not None:
            url = wire.dumps(request_url(self.settings, dataset_id))
            body = wire.body(self._extra, [event.wire for event in batch])
            try:
                for piece in (b'{"url":', url, b',"body":', body, b"}\n"):
                    self._out.write(piece)
            except OSError as exc:
                raise LocalWriteError(f"cannot write --output: {exc.strerror or exc}") from None
        super().submit(dataset_id, batch)

    def close(self) -> None:
        if self._out is None:
            return
        try:
            if self._owned:
                self._out.close()
            else:
                self._out.flush()
        except OSError as exc:
            raise LocalWriteError(f"cannot write --output: {exc.strerror or exc}") from None
        self._out = None

    def abort(self) -> None:
        self.close()
