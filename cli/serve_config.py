"""Every default of `conflictclf serve` in one place, importable without the serve extra
(so that `conflictclf serve --help` shows them on a lean install)."""

from __future__ import annotations

from dataclasses import dataclass

from conflictclf.model.serving import DEFAULT_BATCH_WAIT_MS


@dataclass(frozen=True)
class ServeConfig:
    """The command's options map onto these fields; `create_app` takes the rest."""

    # loopback only: the service has no authentication, so reaching it from other machines
    # must be a deliberate choice (--host 0.0.0.0)
    host: str = "127.0.0.1"
    port: int = 8000  # the usual port of a local Python web service (uvicorn's default)
    backend: str = "auto"  # as `classify --backend`
    # about 1 MB holds a few hundred news articles; more belongs in `conflictclf batch`
    max_body_bytes: int = 1 << 20
    max_texts: int = 1000  # texts or articles in one request
    batch_wait_ms: float = DEFAULT_BATCH_WAIT_MS  # how long a request waits for others to share its pass
