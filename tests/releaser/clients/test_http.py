"""The base HTTP client against a real local HTTP server whose answers each test scripts.

Sleeps are recorded instead of slept (the client takes ``sleep``), so waits are asserted
exactly and no test races the clock.
"""

from __future__ import annotations

import io
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from releaser.clients.http import HTTPClient, RetryPolicy
from releaser.errors import (
    AmbiguousWrite,
    CredentialError,
    HTTPError,
    RateLimited,
    Unreachable,
)
from releaser.ui import UI

SECRET = "tok_s3cr3t_value_123"


class Script:
    """Answers in order: (status, headers, body) or "drop" (close without answering)."""

    def __init__(self) -> None:
        self.answers: list[Any] = []
        self.seen: list[tuple[str, str, dict[str, str]]] = []


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _any(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            if length:
                self.rfile.read(length)
            script.seen.append((self.command, self.path, dict(self.headers)))
            answer = script.answers.pop(0) if script.answers else (200, {}, {"ok": True})
            if answer == "drop":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            status, headers, body = answer
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", script
    httpd.shutdown()
    httpd.server_close()


def make(base: str, verbose: bool = False, **kwargs: Any) -> tuple[HTTPClient, list[float], Any]:
    out, err = io.StringIO(), io.StringIO()
    ui = UI(verbose=verbose, out=out, err=err)
    ui.redactor.add(SECRET)
    slept: list[float] = []
    client = HTTPClient(
        base,
        ui,
        headers={"Authorization": f"token {SECRET}"},
        sleep=slept.append,
        retry=RetryPolicy(max_wait=120),
        **kwargs,
    )
    client.config_key = "[forge] api_url"
    client.credential = "TEST_TOKEN"
    return client, slept, err


def test_get_retries_5xx_with_backoff_then_succeeds(server):
    base, script = server
    script.answers = [(502, {}, {"message": "bad gateway"}), (503, {}, None), (200, {}, [1])]
    client, slept, _ = make(base)
    assert client.get_json("/things") == [1]
    assert slept == [0.5, 1.0]
    assert client.stats.requests == 3


def test_post_is_never_resent_after_a_5xx(server):
    base, script = server
    script.answers = [(502, {}, {"message": "bad gateway"})]
    client, slept, _ = make(base)
    with pytest.raises(HTTPError) as info:
        client.send_json("POST", "/issues", {"title": "x"})
    assert info.value.status == 502
    assert [m for m, _, _ in script.seen] == ["POST"]
    assert slept == []


def test_post_whose_answer_is_lost_is_ambiguous_not_resent(server):
    base, script = server
    script.answers = ["drop"]
    client, _, _ = make(base)
    with pytest.raises(AmbiguousWrite, match="may have been applied"):
        client.send_json("POST", "/issues", {"title": "x"})
    assert len(script.seen) == 1


def test_rate_limit_is_honoured_for_any_method_and_shown_when_long(server):
    base, script = server
    script.answers = [(429, {"Retry-After": "30"}, {"message": "slow down"}), (201, {}, {"id": 1})]
    client, slept, err = make(base)
    assert client.send_json("POST", "/issues", {"title": "x"}) == {"id": 1}
    assert slept == [30.0]
    assert "waiting 30 s, until" in err.getvalue()


def test_rate_limit_longer_than_max_wait_exits_4_with_when(server):
    base, script = server
    script.answers = [(429, {"Retry-After": "3600"}, {"message": "slow down"})]
    client, slept, _ = make(base)
    with pytest.raises(RateLimited) as info:
        client.get_json("/x")
    assert info.value.exit_code == 4
    assert "re-run the same command after" in (info.value.hint or "")
    assert slept == []


def test_401_is_a_credential_error_naming_the_variable_without_the_secret(server):
    base, script = server
    script.answers = [(401, {}, {"message": f"Bad credentials {SECRET}"})]
    client, _, _ = make(base)
    with pytest.raises(CredentialError) as info:
        client.get_json("/user")
    assert info.value.exit_code == 2
    assert "TEST_TOKEN" in info.value.message
    assert SECRET not in info.value.message


def test_unreachable_fails_fast_and_names_the_config_key():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there once closed
    client, slept, _ = make(f"http://127.0.0.1:{port}")
    with pytest.raises(Unreachable) as info:
        client.get_json("/x")
    assert "connection refused" in info.value.message
    assert "[forge] api_url" in (info.value.hint or "")
    assert sum(slept) < 2


def test_404_can_be_expected(server):
    base, script = server
    script.answers = [(404, {}, {"message": "Not Found"})]
    client, _, _ = make(base)
    assert client.find_json("/missing") is None


def test_conditional_get_answers_304_from_the_cache(server):
    base, script = server
    script.answers = [(200, {"ETag": '"v1"'}, {"n": 1}), (304, {"ETag": '"v1"'}, None)]
    client, _, _ = make(base, conditional=True)
    assert client.get_json("/runs") == {"n": 1}
    assert client.get_json("/runs") == {"n": 1}
    assert script.seen[1][2].get("If-None-Match") == '"v1"'
    assert client.stats.not_modified == 1


def test_a_304_carries_its_own_headers_over_the_cached_ones(server):
    """The forge's time is read from each answer's Date, and the rate figures from its
    X-RateLimit headers: a 304 must not bring back those of the first answer (a waiting
    driver would never see its lease come due)."""
    base, script = server
    script.answers = [
        (200, {"ETag": '"v1"', "X-RateLimit-Used": "1", "X-First": "yes"}, {"n": 1}),
        (304, {"ETag": '"v1"', "X-RateLimit-Used": "7"}, None),
    ]
    client, _, _ = make(base, conditional=True)
    client.get_json("/runs")
    again = client.request("GET", "/runs")
    assert again.status_code == 200 and again.json() == {"n": 1}
    assert again.headers["x-ratelimit-used"] == "7"  # the 304's own
    assert again.headers["x-first"] == "yes"  # the rest as cached


def test_verbose_narration_is_one_redacted_line_per_request(server):
    base, _script = server
    client, _, err = make(base, verbose=True)
    client.get_json(f"/things?token={SECRET}")
    text = err.getvalue()
    assert SECRET not in text
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1
    assert f"GET {base}/things -> 200" in lines[0]
