"""One place for configuration: environment variables or a `.env` file.

Get it through `get_settings()` (cached); tests clear the cache after changing
the environment, so nothing is frozen at import.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    data_dir: Path = Field(default=Path("data"), validation_alias="CLUELAB_DATA_DIR")
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    redis_url: str | None = Field(default=None, validation_alias="REDIS_URL")
    openai_base_url: str | None = Field(default=None, validation_alias="OPENAI_BASE_URL")
    openai_api_key: str | None = Field(default=None, validation_alias="OPENAI_API_KEY")
    model_backend: str = Field(default="baseline", validation_alias="CLUELAB_MODEL_BACKEND")
    # Uploaded or imported media larger than this is refused before any work is done.
    max_media_bytes: int = Field(default=2 * 1024**3, validation_alias="CLUELAB_MAX_MEDIA_BYTES")
    ingest_workers: int = Field(default=2, ge=1, validation_alias="CLUELAB_INGEST_WORKERS")
    # Longer clips are refused (a tiny file can hold hours of video); long clips get fewer sampled frames.
    max_duration_seconds: float = Field(default=2 * 3600, gt=0, validation_alias="CLUELAB_MAX_DURATION_SECONDS")
    max_frames_per_clip: int = Field(default=240, ge=1, validation_alias="CLUELAB_MAX_FRAMES_PER_CLIP")
    # An ingest run holds each clip it works on; a claim not renewed for this long is dead and taken over.
    ingest_claim_timeout_seconds: float = Field(default=600, gt=0, validation_alias="CLUELAB_INGEST_CLAIM_TIMEOUT")
    # Server folders a lead may import from in the app (the command line may read anywhere).
    # Empty: the data directory's `imports/` folder. Uploads always land in the data directory's `uploads/`.
    import_roots: Annotated[list[Path], NoDecode] = Field(default_factory=list, validation_alias="CLUELAB_IMPORT_ROOTS")
    # Jobs: a running job's row is touched this often; a row untouched for `job_stale_seconds` lost its worker.
    job_heartbeat_seconds: float = Field(default=5.0, gt=0, validation_alias="CLUELAB_JOB_HEARTBEAT_SECONDS")
    job_stale_seconds: float = Field(default=60.0, gt=0, validation_alias="CLUELAB_JOB_STALE_SECONDS")
    # The task queue's name: also the Redis key prefix, so several installs (or tests) share one Redis.
    queue_name: str = Field(default="cluelab", min_length=1, validation_alias="CLUELAB_QUEUE_NAME")

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @field_validator("import_roots", mode="before")
    @classmethod
    def _path_list(cls, value: object) -> object:
        """Accept `a:b` (like PATH) as well as a JSON list."""
        if isinstance(value, str):
            text = value.strip()
            return json.loads(text) if text.startswith("[") else [part for part in text.split(":") if part.strip()]
        return value

    @field_validator("database_url")
    @classmethod
    def _normalise_url(cls, value: str | None) -> str | None:
        """Accept the common `postgres://` and `postgresql://` forms and use psycopg 3."""
        if not value:
            return None
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix):]
        return value

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'cluelab.db'}"

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    @property
    def allowed_import_roots(self) -> list[Path]:
        """Folders the app may import from: the configured roots (or `imports/`), and its own uploads."""
        roots = [Path(r).expanduser().resolve() for r in self.import_roots] or [self.data_dir / "imports"]
        return [*roots, self.data_dir / "uploads"]

    @property
    def is_sqlite(self) -> bool:
        return self.sqlalchemy_url.startswith("sqlite")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
