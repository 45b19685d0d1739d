"""The page registry: which page each role may open, in which sidebar section."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import streamlit as st

from components.session import current_user
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
    refusal: str = ""  # what someone without the roles reads; a default names the roles


ANYONE = frozenset(Role)
LEADS = frozenset({Role.lead})
LEADS_AND_RESEARCHERS = frozenset({Role.lead, Role.researcher})

PAGES: list[PageSpec] = [
    PageSpec("pages/home.py", "Home", ":material/home:", "ClueLab", ANYONE),
    PageSpec("pages/annotate.py", "Annotate", ":material/edit_note:", "Annotate", frozenset({Role.annotator}),
             "Annotating needs the annotator role."),
    PageSpec("pages/my_work.py", "My work", ":material/history:", "Annotate", frozenset({Role.annotator}),
             "This page is for annotators."),
    PageSpec("pages/clips.py", "Clips", ":material/video_library:", "Data", LEADS_AND_RESEARCHERS),
    PageSpec("pages/datasets.py", "Datasets & import", ":material/upload:", "Data", LEADS),
    PageSpec("pages/assignments.py", "Assignments", ":material/assignment_ind:", "Data", LEADS,
             "Assignments are managed by a lead."),
    PageSpec("pages/jobs.py", "Jobs", ":material/pending_actions:", "Data", LEADS_AND_RESEARCHERS),
    PageSpec("pages/adjudicate.py", "Adjudicate", ":material/gavel:", "Review", LEADS, "Adjudication is for leads."),
    PageSpec("pages/agreement.py", "Agreement", ":material/insights:", "Review", LEADS, "Agreement charts are for leads."),
    PageSpec("pages/models.py", "Models", ":material/model_training:", "Research", LEADS_AND_RESEARCHERS,
             "The Models page is for leads and researchers."),
    PageSpec("pages/evaluate_sources.py", "Evaluate & exchange", ":material/analytics:", "Research",
             LEADS_AND_RESEARCHERS),
    PageSpec("pages/studies.py", "Studies", ":material/science:", "Research", LEADS_AND_RESEARCHERS,
             "The Studies page is for researchers and leads."),
    PageSpec("pages/rate_study.py", "Rate a study", ":material/thumbs_up_down:", "Annotate",
             frozenset({Role.annotator, Role.researcher, Role.lead}),
             "Rating studies is for annotators, researchers and leads."),
    PageSpec("pages/admin.py", "Users", ":material/manage_accounts:", "Admin", frozenset({Role.admin})),
    PageSpec("pages/audit.py", "Audit log", ":material/policy:", "Admin", LEADS,
             "The audit log is for leads and admins."),
    PageSpec("pages/account.py", "My account", ":material/account_circle:", "ClueLab", ANYONE),
]


def allowed(spec: PageSpec, user: User | None) -> bool:
    if user is None:
        return False
    roles = set(user.roles)
    return Role.admin.value in roles or any(role.value in roles for role in spec.roles)


def pages_for(user: User | None) -> list[PageSpec]:
    return [spec for spec in PAGES if allowed(spec, user)]


# The sidebar lists every page the user may open; Streamlit would otherwise fold all but ten under "View N more",
# where an admin's Users page (the last) disappeared.
NAV_EXPANDED = True


def sections_for(user: User | None) -> dict[str, list[PageSpec]]:
    """The user's pages by sidebar section, in PAGES order; an admin's own section comes right after ClueLab."""
    sections: dict[str, list[PageSpec]] = {}
    for spec in pages_for(user):
        sections.setdefault(spec.section, []).append(spec)
    if user is not None and Role.admin.value in user.roles and "Admin" in sections:
        first = {name: specs for name, specs in sections.items() if name == "ClueLab"}
        sections = {**first, "Admin": sections["Admin"], **sections}
    return sections


def role_names(user: User | None) -> str:
    """The user's roles as people read them: "admin", "annotator and lead"."""
    roles = [role.value for role in Role if user is not None and role.value in user.roles]
    return " and ".join([", ".join(roles[:-1]), roles[-1]] if len(roles) > 1 else roles) or "no role"


def link(user: User | None, path: str, label: str | None = None) -> None:
    """A link to a page, drawn only when the user may open it."""
    for spec in pages_for(user):
        if spec.path == path:
            st.page_link(spec.path, label=label or spec.title, icon=spec.icon)
            return


def spec_for(path: str) -> PageSpec:
    return next(spec for spec in PAGES if spec.path == path)


def guard(path: str) -> User:
    """The page's one preamble: the signed-in user when they hold the page's roles; otherwise say why and stop."""
    spec = spec_for(path)
    user = current_user()
    if user is None:
        st.info(f"Sign in to open {spec.title}.")
    if not allowed(spec, user):
        wanted = " or ".join(sorted(role.value for role in spec.roles))
        st.error(spec.refusal or f"{spec.title} needs the {wanted} role.")
        st.stop()
    return user
