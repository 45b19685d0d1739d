"""`cluelab db move-to`, `cluelab backup`, `cluelab restore`: moving and saving a whole instance."""

from __future__ import annotations

from pathlib import Path

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


def backup(archive: Path = typer.Argument(..., help="The file to write: .tar, or .tar.gz to compress.",
                                          dir_okay=False)) -> None:
    """Back up the embedded instance: a snapshot of the SQLite database (taken while it runs) and the data
    folder (media, uploads, models), with a manifest of every file's SHA-256."""
    from db.backup import BackupError, backup_instance

    try:
        manifest = backup_instance(archive)
    except BackupError as error:
        _fail(str(error))
    console.print(f"Backed up {sum(manifest.rows.values())} row(s) and {manifest.data_files} data file(s) to "
                  f"{archive} (readable by you only: it holds password hashes and the session key).",
                  soft_wrap=True, highlight=False)


def restore(
    archive: Path = typer.Argument(..., help="A file written by `cluelab backup`.", dir_okay=False),
    force: bool = typer.Option(False, "--force", help="Replace an instance that is not empty."),
) -> None:
    """Restore the embedded instance from a backup, after checking every file against its manifest.
    Stop the server and workers first."""
    from db.backup import BackupError, restore_instance

    try:
        manifest = restore_instance(archive, force=force)
    except BackupError as error:
        _fail(str(error))
    console.print(f"Restored {sum(manifest.rows.values())} row(s) and {manifest.data_files} data file(s) from "
                  f"{archive} (backed up {manifest.created_at}), verified against its manifest.",
                  soft_wrap=True, highlight=False)
