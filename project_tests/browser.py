"""Open pages in real headless Chromium (Debian's package) over the DevTools protocol: failed requests, console
errors, a screenshot. Used by the TA-report tests."""

import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--remote-debugging-port=0",
    "--window-size=1200,1600",
]


def chromium():
    """The chromium binary, installed with apt-get if it is missing and we may; (None, reason) if impossible."""
    found = shutil.which("chromium")
    if found:
        return found, ""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None, "chromium is not installed and this user cannot apt-get install it"
    try:
        done = subprocess.run(
            ["apt-get", "install", "-y", "-q", "chromium"],
            capture_output=True,
            text=True,
            timeout=900,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
    except subprocess.TimeoutExpired:
        return None, "apt-get install chromium timed out"
    return (
        (shutil.which("chromium"), "")
        if shutil.which("chromium")
        else (None, f"apt-get install chromium failed: {done.stderr.strip()[-300:]}")
    )


class _DevTools:
    def __init__(self, url: str):
        import websocket

        self.ws = websocket.create_connection(url, timeout=30, suppress_origin=True)
        self.next_id, self.events = 0, []

    def send(self, method: str, params=None, session=None, wait=True):
        self.next_id += 1
        mine = self.next_id
        message = {"id": mine, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        while wait:
            reply = self.receive()
            if reply.get("id") == mine:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
        return None

    def receive(self, timeout=30.0):
        self.ws.settimeout(timeout)
        message = json.loads(self.ws.recv())
        if "method" in message:
            self.events.append(message)
            if message["method"] == "Target.attachedToTarget":  # e.g. a sandboxed iframe in its own process
                self.watch(message["params"]["sessionId"], wait=False)
        return message

    def watch(self, session, wait=True):
        for domain in ("Network", "Runtime", "Log"):
            self.send(f"{domain}.enable", session=session, wait=wait)
        self.send(
            "Target.setAutoAttach",
            {"autoAttach": True, "waitForDebuggerOnStart": False, "flatten": True},
            session=session,
            wait=wait,
        )


def open_pages(binary: str, pages: dict, settle: float = 1.5) -> dict:
    """{name: {"failed": [requests that failed or got an HTTP error], "errors": [console errors and exceptions],
    "requests": [URLs requested]}} for each entry {name: (page, screenshot)} of `pages`, one after the other in one
    Chromium (a tab each, closed before the next opens); each page's full-page screenshot is written to `screenshot`."""
    profile = tempfile.mkdtemp(prefix="a0-chromium-")
    proc = subprocess.Popen(
        [binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline, url = time.monotonic() + 60, None
        while url is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                break
            found = re.search(r"DevTools listening on (ws://\S+)", line)
            url = found and found.group(1)
        assert url, "chromium did not start its DevTools server"
        tools = _DevTools(url)
        seen = {name: _visit(tools, page, screenshot, settle) for name, (page, screenshot) in pages.items()}
        try:
            tools.send("Browser.close")
        except Exception:  # noqa: BLE001  -- the browser may already be gone
            pass
        return seen
    finally:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(profile, ignore_errors=True)


def _visit(tools: _DevTools, page: Path, screenshot: Path, settle: float) -> dict:
    tools.events = []
    target = tools.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = tools.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    tools.watch(session)
    tools.send("Page.enable", session=session)
    tools.send("Page.navigate", {"url": page.resolve().as_uri()}, session=session)
    deadline = time.monotonic() + 30
    while not any(e["method"] == "Page.loadEventFired" for e in tools.events) and time.monotonic() < deadline:
        tools.receive(timeout=max(0.1, deadline - time.monotonic()))
    assert any(e["method"] == "Page.loadEventFired" for e in tools.events), f"{page.name} did not load"
    until = time.monotonic() + settle  # late console messages and requests
    while time.monotonic() < until:
        try:
            tools.receive(timeout=until - time.monotonic())
        except Exception:  # noqa: BLE001  -- websocket's timeout
            break
    shot = tools.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session=session)
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    screenshot.write_bytes(base64.b64decode(shot["data"]))
    report: dict = {"failed": [], "errors": [], "requests": []}
    for event in tools.events:
        method, params = event["method"], event.get("params", {})
        if method == "Network.requestWillBeSent":
            report["requests"].append(params["request"]["url"][:200])
        elif method == "Network.loadingFailed":
            report["failed"].append(f"{params.get('errorText')} {params.get('blockedReason') or ''}")
        elif method == "Network.responseReceived" and params["response"].get("status", 0) >= 400:
            report["failed"].append(f"HTTP {params['response']['status']} {params['response']['url'][:200]}")
        elif method == "Runtime.exceptionThrown":
            report["errors"].append(str(params["exceptionDetails"].get("text")))
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            report["errors"].append(" ".join(str(a.get("value")) for a in params.get("args", [])))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            report["errors"].append(params["entry"].get("text", ""))
    tools.send("Target.closeTarget", {"targetId": target})
    return report
