"""An LLM's proposal for a clip's consensus clues, beside the extractive merge.

The lead asks for it on the Adjudicate page; it is only a proposal to take or leave.
Per aspect, the annotators' clues are summarised under EMER's three rules for
merged reasoning: one subject ("The person" / 此人), no repeated words or phrases,
full sentences with punctuation. Numbers must come back exactly as written.
Uses the same OpenAI-compatible chat client as pre-annotation (`OPENAI_BASE_URL`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from annotation.llm_client import ChatClient, LLMError
from annotation.permissions import require
from core.settings import get_settings
from core.vocabulary import Aspect, Role

PROMPT = {
    "en": ("Several annotators described the {aspect} clues of the same video clip. Merge their descriptions "
           "into one, following three rules: (1) use one subject, \"The person\"; (2) repeat no word or phrase; "
           "(3) write complete sentences with punctuation. Keep every clue at least two annotators give and any "
           "other clue that does not contradict them; copy numbers and units exactly as written; add nothing that "
           "no annotator wrote. Answer in English with the merged description only.\n\n{texts}"),
    "zh": ("几位标注者描述了同一视频片段的{aspect}线索。请将它们合并为一段描述，遵守三条规则：(1) 主语统一为“此人”；"
           "(2) 不重复任何词语或短语；(3) 使用完整的句子和标点。保留至少两位标注者给出的线索，以及与之不矛盾的其他线索；"
           "数字和单位照原文抄写；不要添加标注者没有写的内容。只用中文回答合并后的描述。\n\n{texts}"),
}


@dataclass
class LlmMerge:
    """Per aspect, the proposed clue; aspects the model could not merge say why in `errors`."""

    clues: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def merge_prompt(aspect: Aspect, texts: Sequence[str], language: str) -> str:
    lang = "zh" if language == "zh" else "en"
    numbered = "\n".join(f"{i}. {text.strip()}" for i, text in enumerate(texts, 1))
    title = aspect.title_in(lang)
    return PROMPT[lang].format(aspect=title.lower() if lang == "en" else title, texts=numbered)


def propose_llm_merge(*, user: Any, clues_by_aspect: Mapping[str, Sequence[str]], language: str,
                      http_client: Any = None) -> LlmMerge:
    """Ask the configured LLM for one merged clue per aspect (lead only). Aspects with one text or none are skipped."""
    require(user, Role.lead, action="ask an LLM to merge clues")
    settings = get_settings()
    if not settings.openai_base_url and not settings.openai_api_key:
        raise LLMError("no LLM endpoint is configured: set OPENAI_BASE_URL (vLLM, SGLang) or OPENAI_API_KEY")
    wanted = {Aspect(a): [t for t in texts if t and t.strip()] for a, texts in clues_by_aspect.items()}
    wanted = {a: texts for a, texts in wanted.items() if len(texts) >= 2}
    return asyncio.run(_merge_all(wanted, language, http_client))


async def _merge_all(wanted: dict[Aspect, list[str]], language: str, http_client: Any) -> LlmMerge:
    client = ChatClient.from_settings(get_settings(), http_client=http_client)
    out = LlmMerge()

    async def one(aspect: Aspect, texts: list[str]) -> None:
        try:
            reply = await client.chat([{"role": "user", "content": merge_prompt(aspect, texts, language)}],
                                      temperature=0.0, step="clue-merge", clip=aspect.value)
            text = (reply.contents[0] if reply.contents else "").strip()
            if text:
                out.clues[aspect.value] = text
            else:
                out.errors[aspect.value] = "the model returned no text"
        except LLMError as error:
            out.errors[aspect.value] = str(error)

    try:
        await asyncio.gather(*(one(a, texts) for a, texts in wanted.items()))
    finally:
        if http_client is None:
            await client.close()
    return out
