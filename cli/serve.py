"""`conflictclf serve`: the classifier as an HTTP service for dashboards, annotation tools and pipelines."""

from __future__ import annotations

import socket
from pathlib import Path

import typer

from conflictclf.cli._util import err, handle_errors
from conflictclf.cli.serve_config import ServeConfig
from conflictclf.data.errors import InputError

INSTALL_HINT = "`conflictclf serve` needs the serve extra: pip install 'conflictclf[serve]'"
D = ServeConfig()


@handle_errors
def serve_cli(
    model: Path | None = typer.Option(None, "--model", "-m", help="Model directory. Default: $CONFLICTCLF_MODEL_DIR or the per-user model."),
    host: str = typer.Option(D.host, "--host", help="Address to listen on; 0.0.0.0 opens the service to other machines (it has no authentication)."),
    port: int = typer.Option(D.port, "--port", min=0, max=65535, help="Port to listen on; 0 picks a free one (the URL line names it)."),
    backend: str = typer.Option(D.backend, "--backend", help="auto, torch, bf16, onnx or onnx-int8."),
    max_body_bytes: int = typer.Option(D.max_body_bytes, "--max-body-bytes", min=1, help="Larger request bodies get 413."),
    max_texts: int = typer.Option(D.max_texts, "--max-texts", min=1, help="Most texts or articles in one request (more: 413)."),
    batch_wait_ms: float = typer.Option(D.batch_wait_ms, "--batch-wait-ms", min=0.0, help="How long a request waits for others to share its forward pass."),
) -> None:
    """Serve the model over HTTP: POST /classify, GET /healthz, GET /model, API docs at /docs.

    The model loads once; requests arriving together share one forward pass. Stop with Ctrl-C.

    Example: conflictclf serve --port 8000   then
    curl -s localhost:8000/classify -H 'content-type: application/json' -d '{"text": "Rebels shelled the town."}'
    """
    try:
        import uvicorn

        from conflictclf.cli.serve_app import create_app
    except ImportError:
        raise InputError(INSTALL_HINT) from None
    from conflictclf.model.classifier import EventClassifier

    cfg = ServeConfig(host=host, port=port, backend=backend, max_body_bytes=max_body_bytes, max_texts=max_texts,
                      batch_wait_ms=batch_wait_ms)
    clf = EventClassifier.from_pretrained(model, backend=cfg.backend)
    sock = bind(cfg.host, cfg.port)  # bound here, so a port in use is an `error:` line, not a uvicorn log
    app = create_app(clf, cfg)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
    name = clf.path.name if clf.path else "model"
    err.print(f"serving {name} ({clf.backend.name}) at {url(sock)}  (API docs: {url(sock)}/docs; Ctrl-C stops)",
              markup=False, soft_wrap=True)
    with sock:
        try:
            server.run(sockets=[sock])
        except KeyboardInterrupt:
            # uvicorn has shut down cleanly and re-raised the Ctrl-C: for a server that is
            # the normal way to stop, not an interruption of unfinished work
            pass
    err.print("stopped", markup=False)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (IPv4 or IPv6, as the host resolves)."""
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise InputError(f"--host {host!r}: {exc.strerror}") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart need not wait out TIME_WAIT
    try:
        sock.bind(addr)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise InputError(f"cannot listen on {host}:{port} ({exc.strerror})") from None
    return sock


def url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
