"""Creating a study: only clips every system covers, one item per clip and system, clear refusals."""

from __future__ import annotations

import pytest

from annotation.permissions import PermissionDenied
from annotation.studies import StudyError, create_study, set_study_status
from db.queries.studies import study_items


def _create(session, world, **overrides):
    args = dict(user=world.researcher, dataset_id=world.dataset_id, name="Reasoning study",
                systems=world.systems, clip_count=5, seed=7)
    args.update(overrides)
    return create_study(session, **args)


def test_items_cover_only_clips_every_system_has(session, world):
    study = _create(session, world)
    items = study_items(session, study_id=study.id)
    clips = {i.clip_id for i in items}
    assert len(clips) == 5 and clips <= set(world.clip_ids)
    assert len(items) == 5 * 3
    for clip in clips:
        assert sorted(i.system for i in items if i.clip_id == clip) == sorted(world.systems)
    model_item = next(i for i in items if i.system.startswith("model:"))
    # A system with clues only gets an EMER paragraph written from them.
    assert model_item.text.startswith("In the video, the corners of the mouth rise.")
    assert "In the audio, the pitch is high." in model_item.text and "happy" in model_item.text
    assert next(i for i in items if i.system == "reference:emer-gt").text.startswith("In the video, she frowns.")
    assert study.status == "draft" and study.systems == world.systems


def test_the_seed_decides_the_clips(session, world):
    first = {i.clip_id for i in study_items(session, study_id=_create(session, world, seed=1).id)}
    again = {i.clip_id for i in study_items(session, study_id=_create(session, world, seed=1).id)}
    assert first == again


@pytest.mark.parametrize("overrides, message", [
    ({"clip_count": 9}, "only 8 clips have an output from every system"),
    ({"systems": ["consensus"]}, "at least 2 systems"),
    ({"systems": ["consensus", "consensus"]}, "only once"),
    ({"systems": ["consensus", "annotations"]}, "several people's work"),
    ({"systems": ["consensus", "nonsense"]}, "unknown source"),
    ({"name": "  "}, "needs a name"),
    ({"clip_count": 0}, "at least 1 clip"),
    ({"name": "x" * 129}, "at most 128 characters"),
    ({"raters": [99999]}, r"users \[99999\] cannot rate"),
    ({"systems": ["consensus", "reference:" + "x" * 60]}, "longer than 64 characters"),
])
def test_bad_requests_are_refused_clearly(session, world, overrides, message):
    with pytest.raises(StudyError, match=message):
        _create(session, world, **overrides)


def test_annotators_cannot_create_and_others_cannot_open_someone_elses_study(session, world):
    with pytest.raises(PermissionDenied):
        _create(session, world, user=world.raters[0])
    study = _create(session, world)
    with pytest.raises(PermissionDenied):
        set_study_status(session, user=world.raters[0], study_id=study.id, status="open")
    assert set_study_status(session, user=world.lead, study_id=study.id, status="open").status == "open"
    assert set_study_status(session, user=world.researcher, study_id=study.id, status="closed").status == "closed"


def test_item_ids_do_not_reveal_the_system(session, world):
    items = study_items(session, study_id=_create(session, world, clip_count=8).id)
    by_clip: dict[int, list] = {}
    for item in sorted(items, key=lambda i: i.id):
        by_clip.setdefault(item.clip_id, []).append(item.system)
    assert len({tuple(systems) for systems in by_clip.values()}) > 1
