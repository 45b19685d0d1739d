"""One place for configuration: environment variables or a `.env` file.

Get it through `get_settings()` (cached); tests clear the cache after changing
the environment, so nothing is frozen at import.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
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
    # Training is refused below this many consensus labels in each of two classes (training part).
    min_labels_per_class: int = Field(default=2, ge=1, validation_alias="CLUELAB_MIN_LABELS_PER_CLASS")
    ingest_workers: int = Field(default=2, ge=1, validation_alias="CLUELAB_INGEST_WORKERS")
    # The `openai` backend (model/llm/) and the LLM judge, on the OPENAI_BASE_URL endpoint.
    llm_model: str = Field(default="gpt-4o-mini", validation_alias="CLUELAB_LLM_MODEL")
    llm_judge_model: str = Field(default="gpt-4o-mini", validation_alias="CLUELAB_LLM_JUDGE_MODEL")
    llm_max_concurrency: int = Field(default=8, ge=1, le=1024, validation_alias="CLUELAB_LLM_MAX_CONCURRENCY")
    llm_timeout_s: float = Field(default=120.0, gt=0, validation_alias="CLUELAB_LLM_TIMEOUT")
    llm_max_retries: int = Field(default=4, ge=0, le=20, validation_alias="CLUELAB_LLM_MAX_RETRIES")
    llm_samples: int = Field(default=1, ge=1, le=32, validation_alias="CLUELAB_LLM_SAMPLES")
    # None: 0.7 when samples > 1 (self-verification needs diverse samples), else 0.
    llm_temperature: float | None = Field(default=None, ge=0, le=2, validation_alias="CLUELAB_LLM_TEMPERATURE")
    llm_use_n: bool = Field(default=True, validation_alias="CLUELAB_LLM_USE_N")
    llm_verify: bool = Field(default=True, validation_alias="CLUELAB_LLM_VERIFY")
    llm_frames: int = Field(default=4, ge=0, le=32, validation_alias="CLUELAB_LLM_FRAMES")
    llm_image_size: int = Field(default=448, ge=64, le=4096, validation_alias="CLUELAB_LLM_IMAGE_SIZE")
    llm_audio: bool = Field(default=False, validation_alias="CLUELAB_LLM_AUDIO")
    llm_evidence: bool = Field(default=True, validation_alias="CLUELAB_LLM_EVIDENCE")
    llm_exemplars: int = Field(default=3, ge=0, le=16, validation_alias="CLUELAB_LLM_EXEMPLARS")
    llm_price_in_per_1k: float | None = Field(default=None, ge=0, validation_alias="CLUELAB_LLM_PRICE_IN_PER_1K")
    llm_price_out_per_1k: float | None = Field(default=None, ge=0, validation_alias="CLUELAB_LLM_PRICE_OUT_PER_1K")

    # --- security (README "Security") ---
    # Signs session cookies. Unset: generated once into `<data dir>/secret_key`.
    secret_key: SecretStr | None = Field(default=None, validation_alias="CLUELAB_SECRET_KEY")
    # Development mode: allows a short or well-known secret key (refused otherwise).
    dev: bool = Field(default=False, validation_alias="CLUELAB_DEV")
    session_days: float = Field(default=14, gt=0, validation_alias="CLUELAB_SESSION_DAYS")
    # `cluelab serve` listens here; 0.0.0.0 exposes plain HTTP to the network (put TLS in front).
    host: str = Field(default="127.0.0.1", validation_alias="CLUELAB_HOST")
    # Behind a reverse proxy every request comes from the proxy: trust its X-Forwarded-For to tell clients apart.
    trust_forwarded_for: bool = Field(default=False, validation_alias="CLUELAB_TRUST_FORWARDED_FOR")
    # Sign-in throttling: after `signin_free_failures` failures from one client on one account each further
    # try waits twice as long (up to `signin_max_delay_s`); `signin_lock_failures` failures lock that pair,
    # `signin_account_lock_failures` (from clients the account never signed in from) lock the account for
    # those clients, `signin_client_lock_failures` (any accounts) lock the client; failures count within
    # `signin_window_minutes` and a lock lasts `signin_lock_minutes` after the last failure.
    signin_window_minutes: float = Field(default=15, gt=0, validation_alias="CLUELAB_SIGNIN_WINDOW_MINUTES")
    signin_free_failures: int = Field(default=3, ge=0, validation_alias="CLUELAB_SIGNIN_FREE_FAILURES")
    signin_max_delay_s: float = Field(default=60, ge=0, validation_alias="CLUELAB_SIGNIN_MAX_DELAY_S")
    signin_lock_failures: int = Field(default=10, ge=1, validation_alias="CLUELAB_SIGNIN_LOCK_FAILURES")
    signin_account_lock_failures: int = Field(default=20, ge=1,
                                              validation_alias="CLUELAB_SIGNIN_ACCOUNT_LOCK_FAILURES")
    signin_client_lock_failures: int = Field(default=50, ge=1, validation_alias="CLUELAB_SIGNIN_CLIENT_LOCK_FAILURES")
    signin_lock_minutes: float = Field(default=15, gt=0, validation_alias="CLUELAB_SIGNIN_LOCK_MINUTES")
    # A client that signed in to an account within this many days is not locked out by others' failures.
    signin_trusted_days: float = Field(default=30, gt=0, validation_alias="CLUELAB_SIGNIN_TRUSTED_DAYS")
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

    # --- emotion_llm backend (model/emotion_llm): weights only from these local folders ---------------
    # Mode 1: one multimodal checkpoint with its processor (LLaVA-class). Mode 2: the composition below.
    emotion_llm_checkpoint: Path | None = Field(default=None, validation_alias="CLUELAB_EMOTION_LLM_CHECKPOINT")
    emotion_llm_lm: Path | None = Field(default=None, validation_alias="CLUELAB_EMOTION_LLM_LM")
    emotion_llm_vision: Path | None = Field(default=None, validation_alias="CLUELAB_EMOTION_LLM_VISION")
    emotion_llm_audio: Path | None = Field(default=None, validation_alias="CLUELAB_EMOTION_LLM_AUDIO")
    # A starting adapter (+ projectors) folder, e.g. converted Emotion-LLaMA weights.
    emotion_llm_adapter: Path | None = Field(default=None, validation_alias="CLUELAB_EMOTION_LLM_ADAPTER")
    emotion_llm_device: str = Field(default="auto", validation_alias="CLUELAB_EMOTION_LLM_DEVICE")
    emotion_llm_dtype: str = Field(default="auto", validation_alias="CLUELAB_EMOTION_LLM_DTYPE")
    emotion_llm_batch_size: int = Field(default=8, ge=1, validation_alias="CLUELAB_EMOTION_LLM_BATCH_SIZE")
    emotion_llm_frames: int = Field(default=8, ge=0, validation_alias="CLUELAB_EMOTION_LLM_FRAMES")
    emotion_llm_max_new_tokens: int = Field(default=150, ge=16, validation_alias="CLUELAB_EMOTION_LLM_MAX_NEW_TOKENS")
    emotion_llm_projector: str = Field(default="attention", validation_alias="CLUELAB_EMOTION_LLM_PROJECTOR")
    emotion_llm_query_tokens: int = Field(default=8, ge=1, validation_alias="CLUELAB_EMOTION_LLM_QUERY_TOKENS")
    emotion_llm_constrained: bool = Field(default=True, validation_alias="CLUELAB_EMOTION_LLM_CONSTRAINED")
    emotion_llm_static_cache: bool = Field(default=False, validation_alias="CLUELAB_EMOTION_LLM_STATIC_CACHE")
    emotion_llm_compile: bool = Field(default=False, validation_alias="CLUELAB_EMOTION_LLM_COMPILE")
    # Threads that read and preprocess clips' media (frames, audio features, prompt ids) a batch ahead.
    emotion_llm_prepare_workers: int = Field(default=4, ge=1, validation_alias="CLUELAB_EMOTION_LLM_PREPARE_WORKERS")
    emotion_llm_lora_r: int = Field(default=16, ge=1, validation_alias="CLUELAB_EMOTION_LLM_LORA_R")
    emotion_llm_lora_alpha: int = Field(default=32, ge=1, validation_alias="CLUELAB_EMOTION_LLM_LORA_ALPHA")
    emotion_llm_lora_targets: str = Field(default="q_proj,k_proj,v_proj,o_proj", validation_alias="CLUELAB_EMOTION_LLM_LORA_TARGETS")
    emotion_llm_learning_rate: float = Field(default=2e-4, gt=0, validation_alias="CLUELAB_EMOTION_LLM_LEARNING_RATE")
    emotion_llm_epochs: float = Field(default=3.0, gt=0, validation_alias="CLUELAB_EMOTION_LLM_EPOCHS")
    emotion_llm_max_steps: int = Field(default=0, ge=0, validation_alias="CLUELAB_EMOTION_LLM_MAX_STEPS")
    emotion_llm_train_batch_size: int = Field(default=4, ge=1, validation_alias="CLUELAB_EMOTION_LLM_TRAIN_BATCH_SIZE")
    emotion_llm_grad_accum: int = Field(default=4, ge=1, validation_alias="CLUELAB_EMOTION_LLM_GRAD_ACCUM")
    emotion_llm_gradient_checkpointing: bool = Field(default=True, validation_alias="CLUELAB_EMOTION_LLM_GRADIENT_CHECKPOINTING")
    emotion_llm_checkpoint_every: int = Field(default=50, ge=1, validation_alias="CLUELAB_EMOTION_LLM_CHECKPOINT_EVERY")
    # inline (this process), accelerate or torchrun (several processes, one per GPU).
    emotion_llm_launcher: str = Field(default="inline", validation_alias="CLUELAB_EMOTION_LLM_LAUNCHER")
    emotion_llm_processes: int = Field(default=1, ge=1, validation_alias="CLUELAB_EMOTION_LLM_PROCESSES")
    # A shard whose worker has not beaten for this long is taken by another worker.
    shard_stale_seconds: float = Field(default=120.0, gt=0, validation_alias="CLUELAB_SHARD_STALE_SECONDS")

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

    @field_validator("emotion_llm_checkpoint", "emotion_llm_lm", "emotion_llm_vision", "emotion_llm_audio",
                     "emotion_llm_adapter", mode="before")
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
    def allowed_import_roots(self) -> list[Path]:
        """Folders the app may import from: the configured roots (or `imports/`), and its own uploads."""
        roots = [Path(r).expanduser().resolve() for r in self.import_roots] or [self.data_dir / "imports"]
        return [*roots, self.data_dir / "uploads"]

    @property
    def is_sqlite(self) -> bool:
        return self.sqlalchemy_url.startswith("sqlite")

    def llm_describe(self) -> dict[str, object]:
        """The LLM settings for the Models page: everything but the key (only whether one is set)."""
        shown = {name.removeprefix("llm_"): getattr(self, name) for name in type(self).model_fields
                 if name.startswith("llm_")}
        return {"base_url": self.openai_base_url, "api_key_set": bool(self.openai_api_key), **shown}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
