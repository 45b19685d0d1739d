"""Keyboard shortcuts for buttons on the page, as an `st.components.v2` component.

`shortcuts({"submit": "ctrl+enter", "emo_0": "alt+1"})` binds each combination to the
button whose widget key is given (Streamlit marks its container `.st-key-<key>`).
One document-level keydown listener per page: mounting again replaces the previous
one, and the component's cleanup removes it, so the keys keep working on every clip
after a submit (the old `streamlit_shortcuts` listener lived in an iframe that a
rerun destroyed, and it never attached a new one).

Keys are matched on `event.code` (the physical key), so Alt+digit works on layouts
and systems where Alt changes the typed character. A shortcut pressed while a text
box has focus first blurs the box, which makes Streamlit commit the typed text, and
clicks the button a moment later: Ctrl+Enter after typing submits what was typed.
"""

from __future__ import annotations

import re

import streamlit as st

MODIFIERS = ("ctrl", "alt", "shift", "meta")
_COMBO = re.compile(r"^((ctrl|alt|shift|meta)\+)*([a-z0-9]|enter|escape|space|arrow(up|down|left|right))$")

_JS = """
const CODES = { enter: ['Enter', 'NumpadEnter'], escape: ['Escape'], space: ['Space'],
                arrowup: ['ArrowUp'], arrowdown: ['ArrowDown'], arrowleft: ['ArrowLeft'], arrowright: ['ArrowRight'] };

function parse(combo) {
  const parts = combo.toLowerCase().split('+');
  const main = parts[parts.length - 1];
  const codes = CODES[main] || (/^[0-9]$/.test(main) ? ['Digit' + main, 'Numpad' + main] : ['Key' + main.toUpperCase()]);
  return { ctrl: parts.includes('ctrl'), alt: parts.includes('alt'), shift: parts.includes('shift'),
           meta: parts.includes('meta'), main, codes };
}

function matches(event, b) {
  if (event.ctrlKey !== b.ctrl || event.altKey !== b.alt || event.shiftKey !== b.shift || event.metaKey !== b.meta) {
    return false;
  }
  return b.codes.includes(event.code) || (event.key || '').toLowerCase() === b.main;
}

function editing(node) {
  return node && (node.tagName === 'TEXTAREA' || node.tagName === 'INPUT' || node.isContentEditable);
}

function press(key) {
  // Streamlit names a widget's container after its key with every other character made '-'.
  const target = document.querySelector('.st-key-' + key.trim().replace(/[^a-zA-Z0-9_-]/g, '-') + ' button');
  if (target && !target.disabled) target.click();
}

export default function (component) {
  const bindings = (component.data.bindings || []).map(([key, combo]) => ({ key, ...parse(combo) }));
  const onKey = (event) => {
    if (event.repeat) return;
    const hit = bindings.find((b) => matches(event, b));
    if (!hit) return;
    event.preventDefault();
    event.stopPropagation();
    const active = document.activeElement;
    if (editing(active)) {
      active.blur();  // Streamlit commits a text box's value on blur: the click must carry it
      setTimeout(() => press(hit.key), 80);
    } else {
      press(hit.key);
    }
  };
  if (window.__cluelabShortcuts) document.removeEventListener('keydown', window.__cluelabShortcuts, true);
  window.__cluelabShortcuts = onKey;
  document.addEventListener('keydown', onKey, true);
  return () => {
    document.removeEventListener('keydown', onKey, true);
    if (window.__cluelabShortcuts === onKey) window.__cluelabShortcuts = null;
  };
}
"""

_COMPONENT = st.components.v2.component("cluelab_shortcuts", js=_JS)


def check(combo: str) -> str:
    """The combination in lower case; ValueError for one the listener cannot match."""
    combo = combo.strip().lower()
    if not _COMBO.match(combo):
        raise ValueError(f"unsupported shortcut: {combo!r}")
    return combo


def shortcuts(bindings: dict[str, str], *, key: str = "shortcuts") -> None:
    """Bind {button widget key: combination such as "alt+1" or "ctrl+enter"} on this page."""
    pairs = sorted((str(k), check(v)) for k, v in bindings.items())
    _COMPONENT(data={"bindings": pairs}, key=key, height=0)
