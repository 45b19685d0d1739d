"""A dataset with clips and three systems' outputs: a model (clues only), consensus and an imported reference."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from annotation.ingest.records import ReferenceRecord
from db.models import Clip, Consensus, Dataset, ModelVersion, Prediction, User
from db.queries.references import store_references


@dataclass
class World:
    dataset_id: int
    clip_ids: list[int]
    systems: list[str]
    researcher: User
    lead: User
    raters: list[User]


def _user(session: Session, name: str, *roles: str) -> User:
    user = User(username=name, password_hash="x", roles=list(roles))
    session.add(user)
    session.flush()
    return user


def build_world(session: Session, *, clips: int = 8, raters: int = 3, uncovered: int = 2, prefix: str = "") -> World:
    """`clips` clips covered by all three systems, plus `uncovered` that only the model covers."""
    dataset = Dataset(name="study-ds")
    session.add(dataset)
    session.flush()
    researcher = _user(session, f"{prefix}researcher", "researcher")
    lead = _user(session, f"{prefix}lead", "lead")
    people = [_user(session, f"{prefix}rater{i}", "annotator") for i in range(raters)]
    version = ModelVersion(backend="baseline", name="baseline-v1", dataset_id=dataset.id)
    session.add(version)
    session.flush()
    covered, references = [], []
    for n in range(clips + uncovered):
        clip = Clip(dataset_id=dataset.id, name=f"clip{n:02d}", status="ready", transcript=f"Line {n}.")
        session.add(clip)
        session.flush()
        session.add(Prediction(clip_id=clip.id, model_version_id=version.id, emotion="happy",
                               clues={"facial": "The corners of the mouth rise.", "vocal": "The pitch is high."}))
        if n < clips:
            covered.append(clip.id)
            session.add(Consensus(clip_id=clip.id, emotion="sad", clues={"facial": "She looks down."}))
            references.append(ReferenceRecord(
                clip_name=clip.name, source="emer-gt", emotion="worried",
                reasoning="In the video, she frowns. In the audio, her voice trembles. Based on these clues, "
                          "she is worried."))
    store_references(session, dataset_id=dataset.id, references=references)
    session.commit()
    return World(dataset.id, covered, [f"model:{version.id}", "consensus", "reference:emer-gt"],
                 researcher, lead, people)
