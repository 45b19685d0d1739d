"""The page registry: which page each role may open, in which sidebar section."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import streamlit as st

from core.vocabulary import Role

if TYPE_CHECKING:
    from db.models import User


@dataclass(frozen=True)
class PageSpec:
    path: str
    title: str
    icon: str
    section: str
    roles: frozenset[Role]


ANYONE = frozenset(Role)
LEADS = frozenset({Role.lead})
LEADS_AND_RESEARCHERS = frozenset({Role.lead, Role.researcher})

PAGES: list[PageSpec] = [
    PageSpec("pages/home.py", "Home", ":material/home:", "ClueLab", ANYONE),
    PageSpec("pages/annotate.py", "Annotate", ":material/edit_note:", "Annotate", frozenset({Role.annotator})),
    PageSpec("pages/my_work.py", "My work", ":material/history:", "Annotate", frozenset({Role.annotator})),
    PageSpec("pages/clips.py", "Clips", ":material/video_library:", "Data", LEADS_AND_RESEARCHERS),
    PageSpec("pages/datasets.py", "Datasets & import", ":material/upload:", "Data", LEADS),
    PageSpec("pages/assignments.py", "Assignments", ":material/assignment_ind:", "Data", LEADS),
    PageSpec("pages/jobs.py", "Jobs", ":material/pending_actions:", "Data", LEADS_AND_RESEARCHERS),
    PageSpec("pages/adjudicate.py", "Adjudicate", ":material/gavel:", "Review", LEADS),
    PageSpec("pages/agreement.py", "Agreement", ":material/insights:", "Review", LEADS),
    PageSpec("pages/models.py", "Models", ":material/model_training:", "Research", LEADS_AND_RESEARCHERS),
    PageSpec("pages/evaluate_sources.py", "Evaluate & exchange", ":material/analytics:", "Research",
             LEADS_AND_RESEARCHERS),
    PageSpec("pages/studies.py", "Studies", ":material/science:", "Research", LEADS_AND_RESEARCHERS),
    PageSpec("pages/rate_study.py", "Rate a study", ":material/thumbs_up_down:", "Annotate",
             frozenset({Role.annotator, Role.researcher, Role.lead})),
    PageSpec("pages/admin.py", "Users", ":material/manage_accounts:", "Admin", frozenset({Role.admin})),
]


def allowed(spec: PageSpec, user: User | None) -> bool:
    if user is None:
        return False
    roles = set(user.roles)
    return Role.admin.value in roles or any(role.value in roles for role in spec.roles)


def pages_for(user: User | None) -> list[PageSpec]:
    return [spec for spec in PAGES if allowed(spec, user)]


def link(user: User | None, path: str, label: str | None = None) -> None:
    """A link to a page, drawn only when the user may open it."""
    for spec in pages_for(user):
        if spec.path == path:
            st.page_link(spec.path, label=label or spec.title, icon=spec.icon)
            return
