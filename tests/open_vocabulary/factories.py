"""An open-vocabulary dataset (no label set) with a model's word sets, annotated end to end."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from annotation.labelling.annotate import AnnotationInput, submit
from core.vocabulary import ASPECTS
from db.models import Dataset, ModelVersion, Prediction
from tests.queue.factories import make_dataset, make_users

# Clip 0: two annotators reach "happy" (wheel 1, level 1), one says angry; clip 1: two say sad.
ANNOTATOR_WORDS = {
    "ann": [["happy", "joyful"], ["sad"]],
    "bob": [["Happy", "relieved"], ["sad", "lonely"]],
    "cat": [["angry"], ["worried", "blorfish"]],
}
MODEL_WORDS = [["happy", "surprised"], ["angry"]]


def filled(words: list[str]) -> AnnotationInput:
    return AnnotationInput(clues={a.value: f"{a.value} evidence" for a in ASPECTS}, emotion_words=words, rating=3)


def open_vocabulary_world(engine: Engine, *, annotate: bool = True):
    """(dataset, clips, model version id, annotators, lead) with every annotator's words submitted."""
    dataset, clips = make_dataset(engine, clips=2, overlap=3, open_vocabulary=True, name="ov")
    with Session(engine, expire_on_commit=False) as session:
        row = session.get(Dataset, dataset.id)
        row.label_set = []
        session.add(row)
        for clip, words in zip(clips, MODEL_WORDS, strict=True):
            prediction = session.exec(select(Prediction).where(Prediction.clip_id == clip.id)).one()
            prediction.emotion_words = words
            session.add(prediction)
        version_id = session.exec(select(ModelVersion.id)).one()
        session.commit()
        dataset = session.get(Dataset, dataset.id)
    annotators = make_users(engine, list(ANNOTATOR_WORDS))
    (lead,) = make_users(engine, ["lead"], roles=("lead",))
    if annotate:
        with Session(engine) as session:
            for user in annotators:
                for clip, words in zip(clips, ANNOTATOR_WORDS[user.username], strict=True):
                    submit(session, user=user, clip_id=clip.id, values=filled(words))
    return dataset, clips, version_id, annotators, lead
