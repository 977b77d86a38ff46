"""A client for the page's live progress stream, reading events the way a browser does."""

import socket
import threading
import time
from contextlib import suppress

import requests


class SseReader:
    """Reads `progress` events of a page's stream in a thread, like a browser would."""

    def __init__(self, url: str, cookies: dict[str, str]) -> None:
        self.events: list[str] = []
        self.kinds: list[str] = []  # every event's name, in order (stream-open, keep-alive…)
        self.opened = threading.Event()  # the server sent stream-open: its first read is done
        self.ended = threading.Event()  # the server closed the stream (or the test did)
        self.response = requests.get(url, cookies=cookies, stream=True, timeout=(5, 60))
        self.response.raise_for_status()
        self.response.encoding = "utf-8"  # what browsers always use for event streams
        self._socket = self.response.raw.connection.sock
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        event, data = None, []
        try:
            for line in self.response.iter_lines(decode_unicode=True):
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    data.append(line[6:])
                elif line == "" and event:
                    self.kinds.append(event)
                    if event == "stream-open":
                        self.opened.set()
                    if event == "progress":
                        self.events.append("\n".join(data))
                    event, data = None, []
        except (requests.RequestException, AttributeError):
            pass  # closed by the test
        finally:
            self.ended.set()

    def wait_for(self, predicate, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for html in list(self.events):
                if predicate(html):
                    return html
            time.sleep(0.05)
        raise AssertionError(f"no matching event among {len(self.events)}")

    def wait_open(self, timeout: float = 10) -> None:
        assert self.opened.wait(timeout), "the stream never opened"

    def wait_ended(self, timeout: float) -> bool:
        return self.ended.wait(timeout)

    def hang_up(self) -> None:
        """Close at once, like a closed tab: close() waits for the reading thread's current
        read, which may be 20 s away (the next keep-alive)."""
        with suppress(OSError):
            self._socket.shutdown(socket.SHUT_RDWR)
        self.close()

    def close(self) -> None:
        self.response.close()
