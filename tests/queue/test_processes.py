"""Several server processes on one database (`cluelab serve --processes N`): the queue stays correct.

Each child process here is what a server process is to the queue: its own engine,
its own filled-prefix memory and, on SQLite, its own in-process write lock. The
children call the domain functions the Annotate and Adjudicate pages call.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import Counter

from sqlmodel import Session, select

from db.models import Annotation, User
from tests.queue.factories import make_dataset, make_users

ANNOTATORS_PER_PROCESS = 3


def _use_database(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    from core.settings import get_settings

    get_settings.cache_clear()


def _values():
    from annotation.labelling.annotate import AnnotationInput
    from core.vocabulary import ASPECTS

    return AnnotationInput(clues={a.value: f"{a.value} clue" for a in ASPECTS}, emotion="happy", rating=3)


def _annotate_until_empty(url: str, dataset_id: int, user_ids: list[int], results) -> None:  # noqa: ANN001
    """A server process: its annotators take and submit clips, taking turns, until the queue is empty."""
    _use_database(url)
    from annotation.labelling.annotate import get_user, load_task, submit

    users = [get_user(user_id=u) for u in user_ids]
    done, active = 0, list(users)
    try:
        while active:
            for user in list(active):
                task = load_task(user=user, dataset_id=dataset_id)
                if task is None:
                    active.remove(user)
                    continue
                submit(user=user, clip_id=task.clip.id, values=_values(), seconds_spent=1.0)
                done += 1
        results.put(("done", done))
    except Exception as error:  # noqa: BLE001 - reported to the parent
        results.put(("error", f"{type(error).__name__}: {error}"))


def _serve_claims(url: str, dataset_id: int, commands, answers) -> None:  # noqa: ANN001
    """A server process that claims (and optionally submits) a clip for a user, on request."""
    _use_database(url)
    from annotation.labelling.annotate import get_user, load_task, submit

    while (command := commands.get()) is not None:
        user_id, then_submit = command
        user = get_user(user_id=user_id)
        task = load_task(user=user, dataset_id=dataset_id)
        if task is not None and then_submit:
            submit(user=user, clip_id=task.clip.id, values=_values(), seconds_spent=1.0)
        answers.put(task.clip.name if task else None)


def _url(engine) -> str:  # noqa: ANN001
    return engine.url.render_as_string(hide_password=False)


def test_two_processes_fill_every_clip_exactly_to_overlap(db_engine):
    dataset, clips = make_dataset(db_engine, clips=12, overlap=2)
    users = make_users(db_engine, [f"ann{i}" for i in range(2 * ANNOTATORS_PER_PROCESS)])
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = [context.Process(target=_annotate_until_empty, args=(
        _url(db_engine), dataset.id, [u.id for u in users[i::2]], results)) for i in range(2)]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    assert [kind for kind, _ in outcomes] == ["done", "done"], outcomes
    with Session(db_engine) as session:
        per_clip = Counter(session.exec(select(Annotation.clip_id).where(Annotation.status == "submitted")).all())
    assert sum(n for _, n in outcomes) == 12 * 2
    assert per_clip == dict.fromkeys((c.id for c in clips), 2)


def test_a_send_back_in_one_process_is_seen_at_once_by_another(db_engine):
    # Uncertainty order: clip00005 first, then 00004, ...; overlap 1, so each submission fills a clip.
    dataset, clips = make_dataset(db_engine, clips=6, overlap=1)
    first, second, third = make_users(db_engine, ["ann1", "ann2", "ann3"])
    (lead,) = make_users(db_engine, ["lead"], roles=["lead"])
    context = multiprocessing.get_context("spawn")
    commands, answers = context.Queue(), context.Queue()
    other = context.Process(target=_serve_claims, args=(_url(db_engine), dataset.id, commands, answers))
    other.start()
    try:
        def claim(user: User, then_submit: bool) -> str | None:
            commands.put((user.id, then_submit))
            return answers.get(timeout=90)

        # The other process fills the three first clips, then leases the fourth: it now remembers that the
        # queue's filled prefix ends at clip00002.
        assert [claim(first, True) for _ in range(3)] == ["clip00005", "clip00004", "clip00003"]
        assert claim(second, False) == "clip00002"
        # This process sends the first clip back for one more annotation.
        from annotation.labelling.adjudication import send_back

        with Session(db_engine) as session:
            send_back(session, user=session.get(User, lead.id), clip_id=clips[5].id, extra=1)
        # The other process serves it at once, to an annotator who has not done it.
        assert claim(third, False) == "clip00005"
    finally:
        commands.put(None)
        other.join(timeout=30)
