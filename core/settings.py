"""One place for configuration: environment variables or a `.env` file.

Get it through `get_settings()` (cached); tests clear the cache after changing
the environment, so nothing is frozen at import.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    # Huey queue name: workers sharing one Redis serve only jobs queued under the same name.
    queue_name: str = Field(default="cluelab", validation_alias="CLUELAB_QUEUE_NAME")

    # --- emotion_llm backend (model/emotion_llm): weights only from these local folders ---------------
    # Mode 1: one multimodal checkpoint with its processor (LLaVA-class). Mode 2: the composition below.
    llm_checkpoint: Path | None = Field(default=None, validation_alias="CLUELAB_LLM_CHECKPOINT")
    llm_lm: Path | None = Field(default=None, validation_alias="CLUELAB_LLM_LM")
    llm_vision: Path | None = Field(default=None, validation_alias="CLUELAB_LLM_VISION")
    llm_audio: Path | None = Field(default=None, validation_alias="CLUELAB_LLM_AUDIO")
    # A starting adapter (+ projectors) folder, e.g. converted Emotion-LLaMA weights.
    llm_adapter: Path | None = Field(default=None, validation_alias="CLUELAB_LLM_ADAPTER")
    llm_device: str = Field(default="auto", validation_alias="CLUELAB_LLM_DEVICE")
    llm_dtype: str = Field(default="auto", validation_alias="CLUELAB_LLM_DTYPE")
    llm_batch_size: int = Field(default=8, ge=1, validation_alias="CLUELAB_LLM_BATCH_SIZE")
    llm_frames: int = Field(default=8, ge=0, validation_alias="CLUELAB_LLM_FRAMES")
    llm_max_new_tokens: int = Field(default=150, ge=16, validation_alias="CLUELAB_LLM_MAX_NEW_TOKENS")
    llm_projector: str = Field(default="attention", validation_alias="CLUELAB_LLM_PROJECTOR")
    llm_query_tokens: int = Field(default=8, ge=1, validation_alias="CLUELAB_LLM_QUERY_TOKENS")
    llm_constrained: bool = Field(default=True, validation_alias="CLUELAB_LLM_CONSTRAINED")
    llm_static_cache: bool = Field(default=False, validation_alias="CLUELAB_LLM_STATIC_CACHE")
    llm_compile: bool = Field(default=False, validation_alias="CLUELAB_LLM_COMPILE")
    llm_lora_r: int = Field(default=16, ge=1, validation_alias="CLUELAB_LLM_LORA_R")
    llm_lora_alpha: int = Field(default=32, ge=1, validation_alias="CLUELAB_LLM_LORA_ALPHA")
    llm_lora_targets: str = Field(default="q_proj,k_proj,v_proj,o_proj", validation_alias="CLUELAB_LLM_LORA_TARGETS")
    llm_learning_rate: float = Field(default=2e-4, gt=0, validation_alias="CLUELAB_LLM_LEARNING_RATE")
    llm_epochs: float = Field(default=3.0, gt=0, validation_alias="CLUELAB_LLM_EPOCHS")
    llm_max_steps: int = Field(default=0, ge=0, validation_alias="CLUELAB_LLM_MAX_STEPS")
    llm_train_batch_size: int = Field(default=4, ge=1, validation_alias="CLUELAB_LLM_TRAIN_BATCH_SIZE")
    llm_grad_accum: int = Field(default=4, ge=1, validation_alias="CLUELAB_LLM_GRAD_ACCUM")
    llm_gradient_checkpointing: bool = Field(default=True, validation_alias="CLUELAB_LLM_GRADIENT_CHECKPOINTING")
    llm_checkpoint_every: int = Field(default=50, ge=1, validation_alias="CLUELAB_LLM_CHECKPOINT_EVERY")
    # inline (this process), accelerate or torchrun (several processes, one per GPU).
    llm_launcher: str = Field(default="inline", validation_alias="CLUELAB_LLM_LAUNCHER")
    llm_processes: int = Field(default=1, ge=1, validation_alias="CLUELAB_LLM_PROCESSES")
    # A shard whose worker has not beaten for this long is taken by another worker.
    shard_stale_seconds: float = Field(default=120.0, gt=0, validation_alias="CLUELAB_SHARD_STALE_SECONDS")

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @field_validator("llm_checkpoint", "llm_lm", "llm_vision", "llm_audio", "llm_adapter", mode="before")
    @classmethod
    def _model_path(cls, value: object) -> Path | None:
        """An empty variable means unset; a path is made absolute."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return Path(str(value)).expanduser().resolve()

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
    def is_sqlite(self) -> bool:
        return self.sqlalchemy_url.startswith("sqlite")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
