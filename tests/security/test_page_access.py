"""Every page of the registry, opened by every role and by nobody: allowed pages render, refused pages show
their refusal and nothing else. Driven by `components.navigation.PAGES`, so a new page is covered at once.

Pages are opened straight from their file (as a URL typed into the browser would reach them), not through
the app's navigation, which hides what a role may not open: hiding is not a permission.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from components.navigation import PAGES, PageSpec
from core.vocabulary import Role
from tests.app.conftest import accounts  # noqa: F401 - a migrated database with one account per role

ROOT = Path(__file__).resolve().parents[2]
ROLES = [Role.annotator.value, Role.lead.value, Role.researcher.value, Role.admin.value, None]  # None: signed out


def may_open(spec: PageSpec, role: str | None) -> bool:
    """The rule, spelled out here rather than borrowed from the code under test: admins open every page,
    anyone else a page that names one of their roles, nobody signed out opens any."""
    return role is not None and (role == Role.admin.value or Role(role) in spec.roles)


def refusal(spec: PageSpec) -> str:
    wanted = " or ".join(sorted(role.value for role in spec.roles))
    return spec.refusal or f"{spec.title} needs the {wanted} role."


def leaves(node, top: bool = False) -> list:  # noqa: ANN001 - an AppTest node
    """Every element drawn under `node` (blocks are walked into; an empty block of the page's own counts)."""
    children = getattr(node, "children", None)
    if children is None:
        return [node]
    if not children:
        return [] if top else [node]
    return [leaf for child in children.values() for leaf in leaves(child)]


def drawn(at: AppTest) -> list[tuple[str, str]]:
    """(type, text) of everything the page drew, in the main area and the sidebar."""
    def text(leaf) -> str:  # noqa: ANN001
        value = getattr(leaf, "value", "")
        return value if isinstance(value, str) else ""

    return [(leaf.type, text(leaf)) for part in (at.main, at.sidebar) for leaf in leaves(part, top=True)]


CASES = [pytest.param(spec, role, id=f"{Path(spec.path).stem}-{role or 'signed-out'}") for spec in PAGES
         for role in ROLES]


def test_every_registered_page_calls_its_own_guard():
    for spec in PAGES:
        source = (ROOT / spec.path).read_text(encoding="utf-8")
        assert f'guard("{spec.path}")' in source, f"{spec.path} never calls guard with its own path"


@pytest.mark.parametrize("spec, role", CASES)
def test_page_access(accounts, spec: PageSpec, role: str | None):  # noqa: F811
    if may_open(spec, role):
        # Through the app, as a browser reaches it: the navigation offers the page and the page draws.
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
        at.session_state["user_id"] = accounts[role]
        at.run()
        at.switch_page(str(ROOT / spec.path)).run()
        assert not at.exception, [e.value for e in at.exception]
        assert refusal(spec) not in [e.value for e in at.error]
        shown = drawn(at)
        assert not any(kind == "info" and text.startswith("Sign in to open") for kind, text in shown)
        assert len(shown) > 1, f"{spec.path} drew nothing for {role}"
        return
    # Reached anyway (the navigation does not offer it, see below), the page shows its refusal and nothing else.
    at = AppTest.from_file(str(ROOT / spec.path), default_timeout=90)
    if role is not None:
        at.session_state["user_id"] = accounts[role]
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    expected = [("error", refusal(spec))]
    if role is None:
        expected.insert(0, ("info", f"Sign in to open {spec.title}."))
    assert drawn(at) == expected, f"{spec.path} drew more than its refusal for {role or 'nobody'}"


@pytest.mark.parametrize("role", ROLES, ids=lambda role: role or "signed-out")
def test_the_navigation_offers_exactly_the_allowed_pages(accounts, role: str | None):  # noqa: F811
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    if role is not None:
        app.session_state["user_id"] = accounts[role]
    app.run()
    assert not app.exception
    for spec in PAGES:
        if may_open(spec, role):
            app.switch_page(str(ROOT / spec.path))  # offered: no error
        else:
            with pytest.raises(ValueError, match="Could not find a navigation page"):
                app.switch_page(str(ROOT / spec.path))
