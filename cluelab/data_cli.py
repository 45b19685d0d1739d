"""`cluelab db move-to`, `cluelab backup`, `cluelab restore`: moving and saving a whole instance."""

from __future__ import annotations

import typer

from cluelab.console import console
from core.settings import get_settings

db_app = typer.Typer(help="The database itself: move it to PostgreSQL.", no_args_is_help=True)


def _fail(message: str) -> None:
    """One line, however long (a URL and a driver's reason), then exit 1."""
    console.print(f"[red]error:[/red] {message}", soft_wrap=True, highlight=False)
    raise typer.Exit(code=1)


@db_app.command("move-to")
def move_to(
    url: str = typer.Argument(..., help="The PostgreSQL database: postgresql://user:password@host:5432/name."),
    force: bool = typer.Option(False, "--force", help="Replace the rows the target already holds."),
) -> None:
    """Copy this instance's database into PostgreSQL (schema migrated first), verify every table, then
    point DATABASE_URL at it. The media folder stays in the data directory."""
    from db.engine import get_engine
    from db.transfer import TransferError, move_database

    try:
        report = move_database(get_engine(), url, force=force,
                               on_table=lambda name, rows: console.print(f"  {name}: {rows} row(s)", style="dim"))
    except TransferError as error:
        _fail(str(error))
    console.print(f"Moved {report.rows} row(s) in {len(report.tables)} tables to {report.target}; "
                  "row counts and checksums verified, sequences set.", soft_wrap=True, highlight=False)
    console.print(f"Next: set DATABASE_URL to it and keep CLUELAB_DATA_DIR={get_settings().data_dir} "
                  "(the media stay there).", soft_wrap=True, highlight=False)
