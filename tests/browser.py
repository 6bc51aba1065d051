"""A small headless-Chromium driver over the Chrome DevTools Protocol, for tests.

with HeadlessChromium() as browser:
    page = browser.open("file:///.../document.html", width=390, height=844)
    page.wait_for("document.readyState === 'complete'")
    assert page.evaluate("document.title") == "..."
    page.screenshot(tmp_path / "page.png")
    assert page.console_errors == []
"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Self

import websocket

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--remote-debugging-port=0",
)


class BrowserError(RuntimeError):
    pass


class Page:
    """One tab, driven through its DevTools websocket. Collects console errors and exceptions."""

    def __init__(self, ws_url: str, timeout: float):
        self.timeout = timeout
        self._ws = websocket.create_connection(ws_url, timeout=timeout, suppress_origin=True)
        self._ids = itertools.count(1)
        self._events: list[dict[str, Any]] = []
        self.console_errors: list[str] = []
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable")

    def _record(self, message: dict[str, Any]) -> None:
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            self.console_errors.append(
                " ".join(
                    str(a.get("value", a.get("description", ""))) for a in params.get("args", [])
                )
            )
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            self.console_errors.append(
                details.get("exception", {}).get("description") or details.get("text", "")
            )
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            self.console_errors.append(f"{entry.get('text', '')} {entry.get('url', '')}".strip())
        self._events.append(message)

    def _receive(self, deadline: float) -> dict[str, Any]:
        self._ws.settimeout(max(deadline - time.monotonic(), 0.05))
        try:
            message = json.loads(self._ws.recv())
        except websocket.WebSocketTimeoutException:
            raise BrowserError("timed out waiting for the browser") from None
        if "method" in message:
            self._record(message)
        return message

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Calls a DevTools method and returns its result (events meanwhile are recorded)."""
        message_id = next(self._ids)
        self._ws.send(json.dumps({"id": message_id, "method": method, "params": params}))
        deadline = time.monotonic() + self.timeout
        while True:
            message = self._receive(deadline)
            if message.get("id") == message_id:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message.get("result", {})

    def wait_for_event(self, method: str, timeout: float | None = None) -> dict[str, Any]:
        for index, event in enumerate(self._events):
            if event.get("method") == method:
                return self._events.pop(index)
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            message = self._receive(deadline)
            if message.get("method") == method:
                self._events.remove(message)
                return message

    def navigate(self, url: str) -> None:
        self._events.clear()
        result = self.send("Page.navigate", url=url)
        if result.get("errorText"):
            raise BrowserError(f"cannot open {url}: {result['errorText']}")
        self.wait_for_event("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        result = self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression!r} raised: {result['exceptionDetails'].get('text')}")
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 30) -> Any:
        """Polls a JS expression until it is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise BrowserError(f"timed out waiting for {expression!r}")
            time.sleep(0.1)

    def set_viewport(
        self, width: int, height: int, *, mobile: bool = True, scale: float = 3
    ) -> None:
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=scale,
            mobile=mobile,
        )

    def screenshot(self, path: str | Path) -> Path:
        data = self.send("Page.captureScreenshot", format="png")["data"]
        path = Path(path)
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        self._ws.close()


class HeadlessChromium:
    """Starts Chromium headless with its own throwaway profile; stops it and removes the profile."""

    def __init__(self, executable: Path = CHROMIUM, timeout: float = 30):
        self.executable = executable
        self.timeout = timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._profile: str | None = None
        self._port: int | None = None
        self._pages: list[Page] = []

    @staticmethod
    def available(executable: Path = CHROMIUM) -> bool:
        return executable.exists()

    def __enter__(self) -> Self:
        self._profile = tempfile.mkdtemp(prefix="chromium-profile-")
        self._process = subprocess.Popen(
            [
                str(self.executable),
                *CHROMIUM_FLAGS,
                f"--user-data-dir={self._profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # With port 0 Chromium picks a free port and writes it to DevToolsActivePort.
        port_file = Path(self._profile) / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout
        while not (port_file.exists() and port_file.read_text().strip()):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise BrowserError("chromium did not start")
            time.sleep(0.05)
        self._port = int(port_file.read_text().splitlines()[0])
        return self

    def _new_target(self) -> str:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self._port}/json/new?about:blank", method="PUT"
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            return json.load(response)["webSocketDebuggerUrl"]

    def open(self, url: str, *, width: int | None = None, height: int = 844) -> Page:
        """A new tab at `url`, loaded; with `width`, a phone-like viewport of that size first."""
        page = Page(self._new_target(), self.timeout)
        self._pages.append(page)
        if width is not None:
            page.set_viewport(width, height)
        page.navigate(url)
        return page

    def __exit__(self, *exc_info: object) -> None:
        for page in self._pages:
            page.close()
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._profile is not None:
            shutil.rmtree(self._profile, ignore_errors=True)
