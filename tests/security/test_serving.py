"""`cluelab serve` keeps to this machine unless told otherwise, and browsers never see tracebacks."""

from __future__ import annotations

import tomllib
from pathlib import Path

from typer.testing import CliRunner

from cluelab import cli

ROOT = Path(__file__).resolve().parents[2]


def _served(monkeypatch, *args: str, env: dict[str, str] | None = None) -> list[str]:
    """The Streamlit command `cluelab serve` would start (nothing is started)."""
    from core.settings import get_settings

    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    started: list[list[str]] = []

    class NoProcess:
        def __init__(self, command, **_kwargs) -> None:
            started.append(command)

        def wait(self, timeout=None) -> int:
            return 0

        def poll(self) -> int:
            return 0

    monkeypatch.setattr(cli.subprocess, "Popen", NoProcess)
    result = CliRunner().invoke(cli.app, ["serve", "--no-worker", *args])
    assert result.exit_code == 0, result.output
    return started[-1]


def _option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_serve_listens_on_localhost_by_default(monkeypatch):
    command = _served(monkeypatch)
    assert _option(command, "--server.address") == "127.0.0.1"
    assert command[command.index("run") + 1].endswith("cluelab/web.py")
    assert _option(command, "--client.showErrorDetails") == "none"


def test_serve_binds_elsewhere_only_when_told(monkeypatch):
    assert _option(_served(monkeypatch, "--host", "0.0.0.0"), "--server.address") == "0.0.0.0"
    assert _option(_served(monkeypatch, env={"CLUELAB_HOST": "10.1.2.3"}), "--server.address") == "10.1.2.3"


def test_serve_refuses_a_placeholder_secret(monkeypatch):
    from core.settings import get_settings

    monkeypatch.setenv("CLUELAB_SECRET_KEY", "change-me")
    get_settings.cache_clear()
    result = CliRunner().invoke(cli.app, ["serve", "--no-worker"])
    assert result.exit_code == 1 and "CLUELAB_SECRET_KEY" in result.output


def test_streamlit_config_hides_error_details():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showErrorDetails"] == "none"
