"""The LLM clue merge on a real local chat server: EMER's three rules in the prompt, leads only, errors per aspect."""

from __future__ import annotations

import pytest

from annotation.labelling.llm_merge import propose_llm_merge
from annotation.llm_client import LLMError
from annotation.permissions import PermissionDenied
from core.vocabulary import Role
from db.models import User
from tests.model.fake_openai_server import Reply

LEAD = User(id=1, username="lead", password_hash="!", roles=[Role.lead.value])
ANNOTATOR = User(id=2, username="ann", password_hash="!", roles=[Role.annotator.value])


def test_merge_sends_each_aspect_with_the_rules_and_returns_the_proposals(llm_server):
    llm_server.script(Reply(contents=["The person smiles broadly (AU12 0.52) and raises the cheeks."]),
                      step="clue-merge", clip="facial")
    llm_server.script(Reply(contents=["此人语速适中，每秒 3.5 个音节。"]), step="clue-merge", clip="vocal")
    merged = propose_llm_merge(user=LEAD, language="en", clues_by_aspect={
        "facial": ["He smiles (AU12 0.52).", "She smiles broadly, cheeks raised."],
        "vocal": ["语速适中。", "每秒 3.5 个音节。"],
        "scene": ["An office."],  # one text: nothing to merge
    })
    assert merged.clues == {"facial": "The person smiles broadly (AU12 0.52) and raises the cheeks.",
                            "vocal": "此人语速适中，每秒 3.5 个音节。"}
    assert merged.errors == {}
    sent = {r.clip: r.text for r in llm_server.seen(step="clue-merge")}
    assert set(sent) == {"facial", "vocal"}
    assert '"The person"' in sent["facial"] and "repeat no word or phrase" in sent["facial"]
    assert "1. He smiles (AU12 0.52)." in sent["facial"] and "2. She smiles broadly, cheeks raised." in sent["facial"]


def test_mandarin_clips_get_the_chinese_rules(llm_server):
    llm_server.script(Reply(contents=["此人微笑。"]), step="clue-merge")
    propose_llm_merge(user=LEAD, language="zh", clues_by_aspect={"facial": ["他笑了。", "她微笑。"]})
    (request,) = llm_server.seen(step="clue-merge")
    assert "此人" in request.text and "不重复任何词语或短语" in request.text


def test_a_failing_aspect_says_why_and_the_others_still_come_back(llm_server):
    llm_server.script(Reply(status=400, message="context too long"), step="clue-merge", clip="verbal")
    llm_server.script(Reply(contents=["The person smiles."]), step="clue-merge", clip="facial")
    merged = propose_llm_merge(user=LEAD, language="en", clues_by_aspect={
        "facial": ["smiles", "grins"], "verbal": ["says hello", "greets"]})
    assert merged.clues == {"facial": "The person smiles."}
    assert "context too long" in merged.errors["verbal"]


def test_only_leads_may_ask_and_an_endpoint_is_needed(monkeypatch):
    with pytest.raises(PermissionDenied):
        propose_llm_merge(user=ANNOTATOR, language="en", clues_by_aspect={"facial": ["a", "b"]})
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    from core.settings import get_settings

    get_settings.cache_clear()
    with pytest.raises(LLMError, match="OPENAI_BASE_URL"):
        propose_llm_merge(user=LEAD, language="en", clues_by_aspect={"facial": ["a", "b"]})
