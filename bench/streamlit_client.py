"""A Streamlit browser, minus the browser: it speaks the app's websocket protocol.

The frontend opens `/_stcore/stream` with the subprotocol `streamlit`, asks for
a script run with a `BackMsg.rerun_script` (a `ClientState`: the page, the
widgets' values, and for a fragment its id), and draws the `ForwardMsg`s that
come back (`delta`s with elements, then `script_finished`). This client does the
same: it keeps the values of the widgets it set, as the frontend's
WidgetStateManager does, sends a button click as a one-off `trigger_value`, and
sends a change of a widget drawn inside a fragment with that fragment's id, so
the server reruns only the fragment. Widget ids and labels are read from the
elements the server sent.
"""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie

import websockets
from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

FINISHED_EARLY_FOR_RERUN = ForwardMsg.ScriptFinishedStatus.FINISHED_EARLY_FOR_RERUN
FINISHED_FRAGMENT_RUN = ForwardMsg.ScriptFinishedStatus.FINISHED_FRAGMENT_RUN_SUCCESSFULLY


class ServerError(RuntimeError):
    """The run ended badly: a timeout, a closed socket, or an exception drawn on the page."""


@dataclass
class Widget:
    id: str
    kind: str  # the element type: text_area, button, checkbox, radio, ...
    label: str
    fragment_id: str
    options: list[str] = field(default_factory=list)


@dataclass
class Run:
    """What one script run drew, and when."""

    sent: float
    finished: float = 0.0
    status: int = 0  # ForwardMsg.ScriptFinishedStatus: 0 a whole run, 3 a fragment's
    first_match: float | None = None  # when `watch` first said yes
    widgets: dict[str, Widget] = field(default_factory=dict)
    headings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # exceptions and error alerts drawn
    texts: list[str] = field(default_factory=list)  # markdown, captions, alerts

    @property
    def seconds(self) -> float:
        return self.finished - self.sent


class AppClient:
    """One browser tab's session with a Streamlit server."""

    def __init__(self, base_url: str, *, timeout: float = 60.0):
        self.url = base_url.rstrip("/").replace("http://", "ws://").replace("https://", "wss://") + "/_stcore/stream"
        self.timeout = timeout
        self.pages: dict[str, str] = {}  # url path -> page_script_hash
        self.page_hash = ""
        self.values: dict[str, WidgetState] = {}  # widget id -> the value this client holds
        self.widgets: dict[str, Widget] = {}  # what the page shows now
        self.cookies: dict[str, str] = {}
        self._ws = None
        self._inbox: asyncio.Queue = asyncio.Queue()
        self._reader: asyncio.Task | None = None

    async def open(self) -> None:
        """Load the page first, as a browser does, and keep its cookies (a sticky proxy routes by them)."""
        self.cookies = cookies = await asyncio.to_thread(self._page_cookies)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())} if cookies else None
        self._ws = await websockets.connect(self.url, subprotocols=["streamlit"], max_size=None,
                                            open_timeout=self.timeout, ping_interval=None,
                                            additional_headers=headers)
        self._reader = asyncio.create_task(self._read())

    def _page_cookies(self) -> dict[str, str]:
        page = self.url.replace("ws://", "http://").replace("wss://", "https://").removesuffix("_stcore/stream")
        with urllib.request.urlopen(page, timeout=self.timeout) as answer:
            jar = SimpleCookie()
            for header in answer.headers.get_all("Set-Cookie") or []:
                jar.load(header)
            answer.read()
        return {name: morsel.value for name, morsel in jar.items()}

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()

    async def _read(self) -> None:
        try:
            async for data in self._ws:
                received = time.perf_counter()
                message = ForwardMsg()
                message.ParseFromString(data)
                await self._inbox.put((received, message))
        except websockets.ConnectionClosed:
            pass
        finally:
            await self._inbox.put((time.perf_counter(), None))

    # --- runs ---------------------------------------------------------------------------

    async def run(self, *, triggers: tuple[str, ...] = (), fragment_id: str = "", page: str | None = None,
                  watch: Callable[[ForwardMsg], bool] | None = None) -> Run:
        """Ask for a script run with the held widget values (plus one-off button triggers); wait for its end."""
        message = BackMsg()
        state = message.rerun_script
        if page is not None:
            self.page_hash = self.pages.get(page, "")
            state.page_name = page if not self.page_hash else ""
        state.page_script_hash = self.page_hash
        state.fragment_id = fragment_id
        live = set(self.widgets) if self.widgets else set(self.values)
        for widget_id, value in self.values.items():
            if widget_id in live or not self.widgets:
                state.widget_states.widgets.append(value)
        for widget_id in triggers:
            state.widget_states.widgets.append(WidgetState(id=widget_id, trigger_value=True))
        run = Run(sent=time.perf_counter())
        full_run = not fragment_id
        drawn: dict[str, Widget] = {}
        await self._ws.send(message.SerializeToString())
        deadline = run.sent + self.timeout
        while True:
            try:
                received, forward = await asyncio.wait_for(self._inbox.get(), max(0.01, deadline - time.perf_counter()))
            except TimeoutError:
                raise ServerError(f"no end of run within {self.timeout:.0f} s") from None
            if forward is None:
                raise ServerError("the server closed the connection")
            if watch is not None and run.first_match is None and watch(forward):
                run.first_match = received
            kind = forward.WhichOneof("type")
            if kind == "delta":
                self._take_delta(forward, run, drawn)
            elif kind == "navigation":
                self.pages.update({p.url_pathname: p.page_script_hash for p in forward.navigation.app_pages})
                self.page_hash = forward.navigation.page_script_hash
            elif kind == "new_session":  # a script run starts (after st.rerun(), the next one)
                self.page_hash = forward.new_session.page_script_hash or self.page_hash
                drawn.clear()
                run.headings.clear()
                run.texts.clear()
            elif kind == "page_not_found":
                run.errors.append(f"page not found: {forward.page_not_found.page_name}")
            elif kind == "script_finished":
                if forward.script_finished == FINISHED_EARLY_FOR_RERUN:
                    continue  # st.rerun(): another run follows at once
                run.finished = received
                run.status = forward.script_finished
                break
        if full_run:
            self.widgets = drawn
        else:
            self.widgets.update(drawn)
        run.widgets = drawn
        return run

    def _take_delta(self, forward: ForwardMsg, run: Run, drawn: dict[str, Widget]) -> None:
        delta = forward.delta
        if delta.WhichOneof("type") != "new_element":
            return
        element = delta.new_element
        kind = element.WhichOneof("type")
        if kind is None:
            return
        body = getattr(element, kind)
        if kind == "heading":
            run.headings.append(body.body)
        elif kind == "exception":
            run.errors.append(f"{body.type}: {body.message}"[:300])
        elif kind == "alert":
            run.texts.append(body.body)
            if body.format == Alert.ERROR:
                run.errors.append(body.body[:300])
        elif kind == "markdown":
            run.texts.append(body.body)
        widget_id = getattr(body, "id", "")
        if isinstance(widget_id, str) and widget_id.startswith("$$ID"):
            options = list(getattr(body, "options", []) or [])
            drawn[widget_id] = Widget(id=widget_id, kind=kind, label=getattr(body, "label", ""),
                                      fragment_id=delta.fragment_id, options=[str(o) for o in options])

    # --- what a person does -------------------------------------------------------------

    def find(self, kind: str, label: str | Callable[[str], bool]) -> Widget | None:
        test = label if callable(label) else (lambda text: text == label)
        return next((w for w in self.widgets.values() if w.kind == kind and test(w.label)), None)

    def set_text(self, widget: Widget, text: str) -> None:
        self.values[widget.id] = WidgetState(id=widget.id, string_value=text)

    def set_bool(self, widget: Widget, value: bool) -> None:
        self.values[widget.id] = WidgetState(id=widget.id, bool_value=value)

    async def change(self, widget: Widget, **run_args) -> Run:
        """The rerun the frontend sends after a widget's value changed (its fragment only, when it has one)."""
        return await self.run(fragment_id=widget.fragment_id, **run_args)

    async def click(self, widget: Widget, **run_args) -> Run:
        return await self.run(triggers=(widget.id,), fragment_id=widget.fragment_id, **run_args)

    async def sign_in(self, username: str, password: str) -> Run:
        """Fill the sign-in form and press its button (a form sends its values with the submit)."""
        first = await self.run(page="")
        if first.errors:
            raise ServerError("; ".join(first.errors))
        name = self.find("text_input", "Username")
        secret = self.find("text_input", "Password")
        button = self.find("button", "Sign in")
        if not (name and secret and button):
            raise ServerError("no sign-in form on the first page")
        self.set_text(name, username)
        self.set_text(secret, password)
        signed = await self.click(button)
        self.values.clear()
        if self.find("button", "Sign in") is not None:
            raise ServerError(f"sign-in refused for {username}: {signed.errors or signed.texts}")
        return signed
