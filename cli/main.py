"""The `conflictclf` command."""

from __future__ import annotations

import inspect

import typer

from conflictclf.cli._util import OneLineErrors
from conflictclf.cli import batch, calibrate, classify, data, demo, download, evaluate, export, incidents, report, \
    review, serve, train

app = typer.Typer(
    name="conflictclf",
    help="Find attacks, retaliation, claims of responsibility and threats in conflict news, sentence by sentence.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=OneLineErrors,
)
app.command("train", context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
            epilog=train.overrides_epilog())(train.train_cli)
app.command("evaluate")(evaluate.evaluate_cli)
app.command("classify")(classify.classify_cli)
app.command("batch")(batch.batch_cli)
app.command("report")(report.report_cli)
app.command("incidents")(incidents.incidents_cli)
app.command("export")(export.export_cli)
app.command("demo")(demo.demo_cli)
app.command("download")(download.download_cli)
app.command("calibrate")(calibrate.calibrate_cli)
app.command("review")(review.review_cli)
app.command("serve")(serve.serve_cli)
app.add_typer(data.app, name="data")


def _reflow(doc: str | None) -> str | None:
    """A docstring as help text: paragraphs kept, the line breaks inside them dropped, since
    the help rewraps to the terminal and a kept break would leave half-empty lines."""
    if not doc:
        return doc
    paragraphs = inspect.cleandoc(doc).split("\n\n")
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines()) for p in paragraphs)


for _group in (app, data.app):
    for _info in _group.registered_commands:
        if _info.help is None and _info.callback is not None:
            _info.help = _reflow(_info.callback.__doc__)


def _print_version(value: bool) -> None:
    if value:
        from conflictclf.model.classifier import package_version

        typer.echo(package_version())
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit.", is_eager=True,
                                 callback=_print_version),
) -> None:
    """Find attacks, retaliation, claims of responsibility and threats in conflict news, sentence by sentence."""


def main() -> None:
    app()


if __name__ == "__main__":
    main()
