"""First-run setup shared by the CLI and tests: migrate, create the demo dataset and users."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlmodel import Session

from annotation.accounts import check_password, generate_password
from annotation.ingest.demo import DEMO_DATASET_NAME, generate_demo_media
from annotation.ingest.importer import import_parsed, read_manifest
from annotation.ingest.pipeline import IngestReport, ingest_clips
from core.settings import get_settings
from core.vocabulary import Role
from db.engine import get_engine
from db.migrate import upgrade_to_head
from db.queries import clips as clip_queries
from db.queries import users as user_queries

DEMO_USERS: list[tuple[str, list[Role]]] = [
    ("admin", [Role.admin]),
    ("lead", [Role.lead]),
    ("researcher", [Role.researcher]),
    ("annotator1", [Role.annotator]),
    ("annotator2", [Role.annotator]),
    ("annotator3", [Role.annotator]),
]


def init_database() -> None:
    get_settings().data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_to_head(get_engine())


@dataclass
class DemoResult:
    dataset_id: int
    new_passwords: dict[str, str] = field(default_factory=dict)
    import_summary: str = ""
    ingest: IngestReport | None = None
    predicted: int = 0


def ensure_demo_users(session: Session, passwords: dict[str, str] | None = None) -> dict[str, str]:
    """Create the demo accounts that do not exist yet; returns their new passwords (shown once)."""
    created = {}
    for username, roles in DEMO_USERS:
        if user_queries.get_user_by_name(session, username=username):
            continue
        password = (passwords or {}).get(username)
        if password:
            check_password(password, username=username)
        else:
            password = generate_password(username=username)
        user_queries.create_user(session, username=username, password=password, roles=roles,
                                 display_name=username.capitalize())
        created[username] = password
    return created


def seed_demo(*, passwords: dict[str, str] | None = None, on_render: Callable[[str], None] | None = None,
              on_total: Callable[[int], None] | None = None,
              on_progress: Callable[[str, str | None], None] | None = None, predict: bool = True,
              prediction_progress=None) -> DemoResult:  # noqa: ANN001
    """Generate (first run only), import and ingest the demo clips; create demo users; pre-annotate."""
    init_database()
    settings = get_settings()
    manifest = generate_demo_media(settings.data_dir / "demo" / "source",
                                   on_clip=(lambda clip: on_render(clip.name)) if on_render else None)
    with Session(get_engine(), expire_on_commit=False) as session:
        new_passwords = ensure_demo_users(session, passwords)
        session.commit()
        lead = user_queries.get_user_by_name(session, username="lead")
        dataset = clip_queries.get_dataset_by_name(session, name=DEMO_DATASET_NAME)
        if dataset is None:
            dataset = clip_queries.create_dataset(
                session, name=DEMO_DATASET_NAME, is_synthetic=True,
                description="SYNTHETIC demo clips: drawn faces acting six emotions, speech by espeak-ng "
                            "(English and Mandarin). Made for trying ClueLab, not for research.")
        report = import_parsed(session, dataset=dataset, parsed=read_manifest(manifest), user=lead)
        session.commit()
        dataset_id = int(dataset.id)
    ingest = ingest_clips(actor=lead, dataset_id=dataset_id, on_total=on_total, on_progress=on_progress)
    result = DemoResult(dataset_id=dataset_id, new_passwords=new_passwords, import_summary=report.summary(),
                        ingest=ingest)
    if predict:
        result.predicted = pre_annotate_missing(dataset_id=dataset_id, progress=prediction_progress)
    return result


def pre_annotate_missing(*, dataset_id: int, progress=None) -> int:  # noqa: ANN001
    """Predict, with the active version (the untrained baseline at first), the ready clips it has not seen."""
    from db.queries import model_versions as model_queries
    from db.queries import predictions as prediction_queries
    from model.inference import predict_dataset

    with Session(get_engine()) as session:
        version = model_queries.active_version(session, dataset_id=dataset_id)
        done = prediction_queries.predicted_clip_ids(session, version_id=version.id) if version else set()
        todo = [c.id for c in model_queries.clips_of_dataset(session, dataset_id=dataset_id) if c.id not in done]
    if not todo:
        return 0
    return int(predict_dataset(dataset_id=dataset_id, clip_ids=todo, progress=progress)["predicted"])
