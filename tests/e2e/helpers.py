"""Settings and helpers shared by the browser tests and their fixtures."""

from __future__ import annotations

from dataclasses import dataclass, field

from playwright.sync_api import Page

# The subprocesses (daphne, the worker) inherit os.environ; an empty value switches the check
# back on for them, so a real sync ORM call inside an async view still fails under test.
CHILD_ENV = {"DJANGO_ALLOW_ASYNC_UNSAFE": ""}

# The sizes every screen must work at: a laptop, and a phone (390 px wide).
VIEWPORTS = {
    "desktop": {"width": 1280, "height": 800},
    "phone": {"width": 390, "height": 844},
}


@dataclass
class BrowserErrors:
    """What went wrong in a browser page: console errors (htmx logs its own errors there,
    and so does the Content-Security-Policy), uncaught exceptions, and requests to our own
    server that failed or answered 4xx/5xx. A test ends with `assert_none()`."""

    origin: str
    console: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)

    @classmethod
    def watch(cls, page: Page, origin: str) -> BrowserErrors:
        errors = cls(origin)
        page.on("console", errors._on_console)
        page.on("pageerror", lambda error: errors.exceptions.append(str(error)))
        page.on("requestfailed", errors._on_request_failed)
        page.on("response", errors._on_response)
        return errors

    def _ours(self, url: str) -> bool:
        return url.startswith(self.origin)

    def _on_console(self, message) -> None:
        if message.type == "error":
            self.console.append(message.text)

    def _on_request_failed(self, request) -> None:
        # A navigation (a reload, a redirect) aborts the page's open event stream: the
        # browser's doing, not a failure of the server.
        if self._ours(request.url) and request.failure != "net::ERR_ABORTED":
            self.failed_requests.append(f"{request.method} {request.url}: {request.failure}")

    def _on_response(self, response) -> None:
        if self._ours(response.url) and response.status >= 400:
            self.failed_requests.append(
                f"{response.request.method} {response.url}: {response.status}"
            )

    def assert_none(self) -> None:
        assert (self.console, self.exceptions, self.failed_requests) == ([], [], [])
