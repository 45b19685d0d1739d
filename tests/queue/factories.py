"""Small builders for queue and annotate tests: users, a dataset with ready clips, predictions."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.engine import Engine
from sqlmodel import Session

from core.vocabulary import ASPECTS, ClipStatus
from db.models import Clip, Dataset, ModelVersion, Prediction, User


def make_users(engine: Engine, names: Sequence[str], roles: Sequence[str] = ("annotator",)) -> list[User]:
    with Session(engine, expire_on_commit=False) as session:
        users = [User(username=n, password_hash="x", roles=list(roles)) for n in names]
        session.add_all(users)
        session.commit()
        return users


def make_dataset(engine: Engine, *, clips: int, overlap: int = 3, strategy: str = "uncertainty",
                 name: str = "ds", lease_minutes: int = 30, settings: dict | None = None,
                 with_predictions: bool = True, statuses: Sequence[str] | None = None,
                 open_vocabulary: bool = False) -> tuple[Dataset, list[Clip]]:
    """A dataset with `clips` ready clips and, optionally, an active model's predictions.

    Uncertainty of clip i is i / clips, so the last clip is the least certain.
    """
    with Session(engine, expire_on_commit=False) as session:
        dataset = Dataset(name=name, overlap=overlap, strategy=strategy, lease_minutes=lease_minutes,
                          settings=settings or {}, open_vocabulary=open_vocabulary)
        session.add(dataset)
        session.flush()
        rows = []
        for i in range(clips):
            status = statuses[i] if statuses else ClipStatus.ready.value
            rows.append(Clip(dataset_id=dataset.id, name=f"clip{i:05d}", status=status, transcript=f"line {i}"))
        session.add_all(rows)
        session.flush()
        if with_predictions:
            version = ModelVersion(backend="baseline", name="v1", dataset_id=dataset.id, is_active=True)
            session.add(version)
            session.flush()
            session.add_all([
                Prediction(clip_id=c.id, model_version_id=version.id, emotion="happy",
                           clues={a.value: f"model {a.value} clue for {c.name}" for a in ASPECTS},
                           distribution={"happy": 0.6, "sad": 0.4}, uncertainty=i / max(1, clips))
                for i, c in enumerate(rows)
            ])
        session.commit()
        return dataset, rows
