"""`cluelab`: the command line. Every command drives the same domain code as the pages."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import typer
from rich.table import Table
from sqlmodel import Session

from cluelab import data_cli, model_cli
from cluelab.console import BarProgress, cli_actor, console, dataset_or_fail, fail, storage_problem
from core.settings import get_settings
from core.vocabulary import LABEL_SETS, Role


class _ClearStorageErrors(typer.core.TyperGroup):
    """Every command: a read-only data directory or a full disk is one clear line, not a traceback."""

    def invoke(self, ctx: typer.Context):  # noqa: ANN201
        try:
            return super().invoke(ctx)
        except Exception as error:
            message = storage_problem(error)
            if message is None:
                raise
            console.print(f"[red]error:[/red] {message}", soft_wrap=True)
            raise typer.Exit(code=1) from None


app = typer.Typer(help="ClueLab: annotate and review explainable multimodal emotion recognition.",
                  no_args_is_help=True, pretty_exceptions_show_locals=False, cls=_ClearStorageErrors)
users_app = typer.Typer(help="Accounts and roles.", no_args_is_help=True)
jobs_app = typer.Typer(help="Background jobs.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(jobs_app, name="jobs")
app.add_typer(data_cli.db_app, name="db")
app.command("backup")(data_cli.backup)
app.command("restore")(data_cli.restore)
for _name, _command in (("predict", model_cli.predict), ("train", model_cli.train), ("models", model_cli.models),
                        ("promote", model_cli.promote_command)):
    app.command(_name)(_command)
ROOT = Path(__file__).resolve().parent.parent


@app.command()
def init() -> None:
    """Create or upgrade the database to the latest schema."""
    from cluelab.bootstrap import init_database

    init_database()
    console.print(f"Database ready: {get_settings().sqlalchemy_url}")


@app.command()
def demo() -> None:
    """Generate (first run only), import and ingest the synthetic demo dataset; create demo users."""
    from cluelab.bootstrap import pre_annotate_missing, seed_demo

    with BarProgress("Ingesting demo clips") as ingest_bar:
        result = seed_demo(on_render=lambda name: console.print(f"rendered {name}", style="dim"),
                           on_total=ingest_bar.set_total, on_progress=ingest_bar.item_done, predict=False)
    with BarProgress("Pre-annotating with the model") as predict_bar:
        result.predicted = pre_annotate_missing(dataset_id=result.dataset_id, progress=predict_bar)
    console.print(f"Demo dataset: {result.import_summary}; "
                  f"{result.ingest.ready if result.ingest else 0} clip(s) ingested, {result.predicted} pre-annotated now.")
    if result.new_passwords:
        table = Table(title="Demo accounts — passwords are shown only this once")
        table.add_column("username")
        table.add_column("password")
        for username, password in result.new_passwords.items():
            table.add_row(username, password)
        console.print(table)
        console.print("Forgot one? `cluelab users reset-password NAME`.")


@app.command("import")
def import_(
    source: Path = typer.Argument(..., help="A folder of media, a CSV/JSON manifest, or a research file "
                                            "(EMER, MERR, MER-Factory, label CSVs)."),
    dataset: str = typer.Option(..., "--dataset", "-d", help="Dataset name; created if missing."),
    format: str | None = typer.Option(None, "--format", "-f", help="Research format; detected when omitted."),
    media: Path | None = typer.Option(None, "--media", help="Folder holding the clips a research file names."),
    source_name: str | None = typer.Option(None, "--source", help="Name to store a research file's labels under."),
    label_set: str = typer.Option("mer2023", help=f"For a new dataset: {', '.join(LABEL_SETS)}."),
    overlap: int = typer.Option(3, help="For a new dataset: annotations per clip."),
    open_vocabulary: bool = typer.Option(False, "--open-vocabulary",
                                         help="For a new dataset: open-vocabulary emotion word sets (implied by "
                                              "an openset file)."),
    ingest: bool = typer.Option(True, help="Process the media right after importing."),
) -> None:
    """Import clips from a folder, a manifest or a research file, then ingest their media."""
    from annotation.formats.registry import UnknownFormat, detect_format
    from annotation.formats.service import import_file
    from annotation.ingest.importer import ImportFailed, import_parsed, read_source
    from cluelab.bootstrap import init_database
    from db.engine import get_engine
    from db.queries import clips as clip_queries

    init_database()
    if label_set not in LABEL_SETS:
        fail(f"unknown label set {label_set!r}; choose one of {', '.join(LABEL_SETS)}")
    research = format is not None
    detected = format
    if not research and source.exists() and not (source.is_dir() and media is None):
        try:
            detected = detect_format(source).name
            research = True
        except UnknownFormat:
            research = False
    open_vocabulary = open_vocabulary or (detected or "").startswith("openset")
    with Session(get_engine(), expire_on_commit=False) as session:
        row = clip_queries.get_dataset_by_name(session, name=dataset) or clip_queries.create_dataset(
            session, name=dataset, label_set=list(LABEL_SETS[label_set]), overlap=overlap,
            open_vocabulary=open_vocabulary)
        try:
            if research:
                report = import_file(session, dataset=row, path=source, media_dir=media, user=cli_actor(),
                                     format=format, source=source_name)
            else:
                report = import_parsed(session, dataset=row, parsed=read_source(source), user=cli_actor(),
                                       media_root=source if source.is_dir() else source.parent)
        except (ImportFailed, UnknownFormat, ValueError) as error:
            fail(str(error))
        session.commit()
        dataset_id = int(row.id)
    console.print(f"{dataset}: {report.summary()}")
    for error in report.errors:
        where = f"row {error.row}" if error.row else (error.name or "?")
        console.print(f"  [yellow]{where}[/yellow]: {error.reason}")
    if ingest:
        _ingest(dataset_id=dataset_id)


@app.command("export")
def export_(
    dataset: str = typer.Option(..., "--dataset", "-d"),
    source: str = typer.Option("consensus", help="consensus, annotations, model:<id> or reference:<name>."),
    format: str = typer.Option(..., "--format", "-f", help="e.g. emer-v1, merr-coarse, llava-jsonl, sharegpt."),
    out: Path = typer.Option(..., "--out", "-o", help="File (or folder, for per-clip formats) to write."),
    split: str | None = typer.Option(None, help="train, val or test; all when omitted."),
) -> None:
    """Export one source of a dataset in a research format (with a .meta.json sidecar)."""
    from annotation.formats.export_service import export_dataset
    from annotation.formats.registry import UnknownFormat
    from db.engine import get_engine

    with Session(get_engine()) as session:
        row = dataset_or_fail(session, dataset)
        try:
            files = export_dataset(session, dataset=row, source=source, format=format, path=out,
                                   user=cli_actor(), split=split)
        except (UnknownFormat, ValueError) as error:
            fail(str(error))
    for file in files:
        console.print(f"wrote {file}")


@app.command()
def evaluate(
    dataset: str | None = typer.Option(None, "--dataset", "-d", help="Score sources on this dataset."),
    version: int | None = typer.Option(None, "--version", help="Or: measure this model version on held-out consensus."),
    reference: str = typer.Option("consensus", help="The ground truth source, e.g. consensus or reference:emer-gt."),
    system: list[str] = typer.Option(None, "--system", "-s", help="Sources to score; every other one when omitted."),
    split: str | None = typer.Option(None, help="train, val or test; all when omitted."),
) -> None:
    """Score model versions and imported systems against a reference: accuracy, F1, UAR/WAR, clue overlap."""
    from annotation.formats.evaluate import available_sources, evaluate_sources
    from db.engine import get_engine

    if version is not None:
        model_cli.evaluate(version, dataset=dataset)
        return
    if dataset is None:
        fail("give --dataset (score sources) or --version (held-out metrics of a model version)")

    with Session(get_engine()) as session:
        row = dataset_or_fail(session, dataset)
        systems = system or [s for s in available_sources(session, dataset_id=row.id)
                             if s != reference and not s.endswith(":*")]
        try:
            table = evaluate_sources(session, dataset_id=row.id, reference=reference, systems=systems, split=split)
        except ValueError as error:
            fail(str(error))
    console.print(_rich_table(table))


def _rich_table(frame) -> Table:  # noqa: ANN001
    table = Table(*[str(c) for c in frame.columns])
    for values in frame.itertuples(index=False):
        table.add_row(*[f"{v:.3f}" if isinstance(v, float) else str(v) for v in values])
    return table


def _ingest(*, dataset_id: int | None, workers: int | None = None) -> None:
    from annotation.ingest.pipeline import IngestStopped, ingest_clips

    try:
        with BarProgress("Ingesting") as bar:
            report = ingest_clips(actor=cli_actor(), dataset_id=dataset_id, workers=workers, on_total=bar.set_total,
                                  on_progress=bar.item_done, on_skip=lambda name: bar.advance(message=name))
    except IngestStopped as stopped:
        fail(str(stopped))
    skipped = f", {report.skipped} processed by another run" if report.skipped else ""
    console.print(f"{report.ready} clip(s) ready, {report.failed} failed{skipped}.")
    for name, error in report.errors.items():
        console.print(f"  [red]{name}[/red]: {error}")


@app.command("ingest")
def ingest_command(
    dataset: str | None = typer.Option(None, "--dataset", "-d", help="Only this dataset."),
    workers: int | None = typer.Option(None, help="Parallel processes (default from settings)."),
    retry_errors: bool = typer.Option(False, "--retry-errors",
                                      help="Also retry clips whose media failed before (e.g. after fixing files)."),
) -> None:
    """Process the media of every pending clip; finished clips are skipped, so it resumes."""
    from annotation.datasets import retry_errored_clips
    from cluelab.bootstrap import init_database
    from db.engine import get_engine

    init_database()
    dataset_id = None
    if dataset:
        with Session(get_engine()) as session:
            dataset_id = dataset_or_fail(session, dataset).id
    if retry_errors:
        count = retry_errored_clips(actor=cli_actor(), dataset_id=dataset_id)
        console.print(f"{count} errored clip(s) queued again.")
    _ingest(dataset_id=dataset_id, workers=workers)


@app.command()
def worker(workers: int = typer.Option(2, help="Jobs run at the same time.")) -> None:
    """Run background jobs (ingest, prediction, training) until stopped."""
    from annotation.jobs import run_worker
    from cluelab.bootstrap import init_database

    init_database()
    # The worker's own log (jobs recovered, stops, failures) goes to stderr.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    console.print(f"Worker started ({'Redis' if get_settings().redis_url else 'SQLite'} queue).")
    run_worker(workers=workers)


# Production settings for the web server: no file watcher walking every imported module after each run,
# and no full garbage collection after each run (each cost ~50 ms of CPU per rerun at ClueLab's heap size);
# error details stay in the server log, browsers get a short message.
STREAMLIT_FLAGS = ["--server.headless", "true", "--browser.gatherUsageStats", "false",
                   "--server.fileWatcherType", "none", "--server.runOnSave", "false", "--runner.postScriptGC", "false",
                   "--client.showErrorDetails", "none"]


def serve_command(*, port: int, host: str) -> list[str]:
    """The Streamlit command `cluelab serve` runs: cluelab/web.py (app.py plus the HttpOnly cookie routes)."""
    return [sys.executable, "-m", "streamlit", "run", str(ROOT / "cluelab" / "web.py"), "--server.port", str(port),
            "--server.address", host, *STREAMLIT_FLAGS]


def _stop_on_sigterm() -> None:
    """Let SIGTERM (systemd, docker, kill) stop the children like Ctrl+C does."""

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


@app.command()
def serve(
    port: int = typer.Option(8501, help="HTTP port."),
    host: str = typer.Option(None, "--host", "--address",
                             help="Address to listen on (default CLUELAB_HOST, else 127.0.0.1: this machine only). "
                                  "0.0.0.0 serves plain HTTP to the network: put a TLS proxy in front (README)."),
    with_worker: bool = typer.Option(True, "--worker/--no-worker", help="Also run a job worker."),
    processes: int = typer.Option(1, min=1, max=64, help="Streamlit server processes, on the ports after --port, "
                                  "behind a sticky proxy on --port (one browser session stays on one process)."),
) -> None:
    """Run the web app (and a job worker beside it)."""
    from annotation.sessions import SecretKeyRefused, signing_secret
    from cluelab.bootstrap import init_database

    host = host or get_settings().host
    try:
        signing_secret()
    except SecretKeyRefused as error:
        fail(str(error))
    init_database()
    _stop_on_sigterm()
    children: list[subprocess.Popen] = []
    if with_worker:
        children.append(subprocess.Popen([sys.executable, "-m", "cluelab.cli", "worker"], cwd=ROOT))
    if host not in ("127.0.0.1", "localhost", "::1"):
        console.print(f"[yellow]Listening on {host}: plain HTTP. Serve it to others through a TLS proxy "
                      "(README, Security).[/yellow]")
    # One process listens where asked; several listen on the next local ports, and the proxy takes --port.
    targets = [(host, port)] if processes == 1 else [("127.0.0.1", port + 1 + i) for i in range(processes)]
    servers = [subprocess.Popen(serve_command(port=p, host=where), cwd=ROOT) for where, p in targets]
    children.extend(servers)
    shown = f"http://{'localhost' if host in ('127.0.0.1', '0.0.0.0') else host}:{port}"
    if processes > 1:
        servers.append(subprocess.Popen([sys.executable, "-m", "cluelab.proxy", f"{host}:{port}",
                                         *(str(p) for _, p in targets)], cwd=ROOT))
        children.append(servers[-1])
        console.print(f"ClueLab on {shown} ({processes} server processes on ports "
                      f"{targets[0][1]}–{targets[-1][1]} behind a sticky proxy)")
    else:
        console.print(f"ClueLab on {shown}")
    try:  # until one of the web processes (or the proxy) ends, or we are told to stop
        while all(child.poll() is None for child in servers):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()


@users_app.command("list")
def users_list() -> None:
    from annotation.accounts import list_accounts

    table = Table("username", "roles", "active")
    for user in list_accounts(actor=cli_actor()):
        table.add_row(user.username, ", ".join(user.roles), "yes" if user.active else "no")
    console.print(table)


@users_app.command("create")
def users_create(
    username: str,
    role: list[Role] = typer.Option(..., "--role", "-r", help="Repeat for several roles."),
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True),
) -> None:
    from annotation.accounts import AccountError, create_account
    from cluelab.bootstrap import init_database

    init_database()
    try:
        create_account(actor=cli_actor(), username=username, password=password, roles=role)
    except AccountError as error:
        fail(str(error))
    console.print(f"Created {username} ({', '.join(r.value for r in role)}).")


@users_app.command("reset-password")
def users_reset_password(username: str) -> None:
    """Give an account a new random password, printed once."""
    from annotation.accounts import find_account, reset_password

    user = find_account(username=username)
    if user is None:
        fail(f"no user named {username!r}")
    password = reset_password(actor=cli_actor(), user_id=user.id)
    console.print(f"New password for {username}: [bold]{password}[/bold]")


@jobs_app.command("list")
def jobs_list(limit: int = 20) -> None:
    from annotation.jobs import list_jobs

    table = Table("id", "kind", "state", "progress", "message", "error")
    for row in list_jobs(limit=limit):
        table.add_row(str(row.id), row.kind, row.state, f"{row.done + row.failed}/{row.total}", row.message, row.error or "")
    console.print(table)


@jobs_app.command("retry")
def jobs_retry(job_id: int, wait: bool = typer.Option(False, help="Run it here instead of in the worker.")) -> None:
    from annotation.jobs import retry

    try:
        retry(job_id=job_id, actor=cli_actor(), inline=wait)
    except ValueError as error:
        fail(str(error))
    console.print(f"Job {job_id} queued again." if not wait else f"Job {job_id} ran.")


@jobs_app.command("cancel")
def jobs_cancel(job_id: int) -> None:
    from annotation.jobs import cancel

    try:
        cancel(job_id=job_id, actor=cli_actor())
    except ValueError as error:
        fail(str(error))
    console.print(f"Asked job {job_id} to stop.")


def main() -> None:  # pragma: no cover - console entry
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    app()


if __name__ == "__main__":
    main()


@app.command("evaluate-openset")
def evaluate_openset(
    gt: Path = typer.Argument(..., help="Gold `name,openset` CSV (or npz).", exists=True, dir_okay=False),
    pred: Path = typer.Argument(..., help="Predictions: `name,openset` CSV or `filenames`/`fileitems` npz.",
                                exists=True, dir_okay=False),
    json_: bool = typer.Option(False, "--json", help="Print one JSON object instead."),
) -> None:
    """Score open-vocabulary emotion predictions with the MER2025/2026 emotion-wheel metric."""
    import json

    from annotation.evaluation.openset_csv import OpensetParseError
    from annotation.evaluation.openset_report import OpensetFileError, evaluate_openset_files, format_table

    try:
        score = evaluate_openset_files(gt, pred)
    except (OpensetFileError, OpensetParseError) as error:
        fail(str(error))
    if json_:
        typer.echo(json.dumps(score.to_json_dict()))
    else:
        typer.echo(format_table(score))


@app.command("consensus-audit")
def consensus_audit(dataset: str | None = typer.Option(None, "--dataset", "-d", help="One dataset; all when omitted."),
                    current_only: bool = typer.Option(False, help="Only the current revision of each clip.")) -> None:
    """List stored consensus clues whose text an older merge broke (split decimals, spaced units, cut numbers)."""
    from annotation.labelling.consensus_audit import find_corrupted_consensus
    from db.engine import get_engine

    dataset_id = None
    if dataset is not None:
        with Session(get_engine()) as session:
            dataset_id = int(dataset_or_fail(session, dataset).id)
    found = find_corrupted_consensus(dataset_id=dataset_id, current_only=current_only)
    table = Table("clip", "consensus", "revision", "aspect", "pattern", "text")
    for spot in found:
        table.add_row(str(spot.clip_id), str(spot.consensus_id), str(spot.revision), spot.aspect, spot.pattern,
                      spot.snippet)
    console.print(table)
    console.print(f"{len(found)} suspicious spot(s); re-accept those clips on the Adjudicate page to fix them.")


def _moment(text: str | None, *, end: bool) -> datetime | None:
    """YYYY-MM-DD (a whole day, UTC: `--until` keeps the day) or an ISO date-time (UTC unless it says otherwise)."""
    from annotation.audit_log import day_after, day_start

    if not text:
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return day_after(day) if end else day_start(day)
        moment = datetime.fromisoformat(text)
    except ValueError:
        fail(f"not a date: {text!r} (use YYYY-MM-DD or YYYY-MM-DDTHH:MM)")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@app.command("audit")
def audit_command(
    user: str | None = typer.Option(None, "--user", "-u", help="Only this username's actions."),
    action: str | None = typer.Option(None, "--action", "-a", help="Only this action, e.g. submit_annotation."),
    since: str | None = typer.Option(None, help="From this day or moment (YYYY-MM-DD[THH:MM], UTC)."),
    until: str | None = typer.Option(None, help="Up to this day (inclusive) or before this moment (UTC)."),
    limit: int = typer.Option(50, min=1, max=1000, help="Newest entries to show."),
    json_: bool = typer.Option(False, "--json", help="One JSON object per line instead of a table."),
) -> None:
    """Show the audit log, newest first: who did what to which row."""
    import json

    from annotation.accounts import find_account
    from annotation.audit_log import AuditFilter, search

    user_id = None
    if user is not None:
        account = find_account(username=user)
        if account is None:
            fail(f"no user named {user!r}")
        user_id = account.id
    wanted = AuditFilter(user_id=user_id, action=action, since=_moment(since, end=False), until=_moment(until, end=True))
    page = search(user=cli_actor(), wanted=wanted, limit=limit, with_total=False)
    if json_:
        for entry in page.entries:
            typer.echo(json.dumps(entry.as_dict(), ensure_ascii=False, sort_keys=True, default=str))
        return
    from rich.text import Text

    table = Table("id", "when (UTC)", "user", "action", "target", "details")
    for entry in page.entries:  # Text cells: stored names and details are shown as typed, never as Rich markup
        table.add_row(str(entry.id), entry.at.strftime("%Y-%m-%d %H:%M:%S"), Text(entry.actor), Text(entry.action),
                      Text(entry.target), Text(json.dumps(entry.detail, ensure_ascii=False, sort_keys=True, default=str)))
    console.print(table)
    console.print(f"{len(page.entries)} entr{'y' if len(page.entries) == 1 else 'ies'}.")
