"""A page is its path and query, whatever the address (releaser/pages.py)."""

from __future__ import annotations

from releaser.pages import links_to, page, same_page

TAG = "http://127.0.0.1:4001/acme/example/releases/tag/v1.2.0"


def test_a_page_is_its_path_and_query() -> None:
    assert page(TAG) == "/acme/example/releases/tag/v1.2.0"
    assert page(" https://forum.example.org/t/example-v1-2-0/42/ ") == "/t/example-v1-2-0/42"
    assert page("https://example.org/search?q=v1.2.0") == "/search?q=v1.2.0"


def test_the_same_page_at_another_address() -> None:
    assert same_page(TAG, "https://github.com/acme/example/releases/tag/v1.2.0/")
    assert not same_page(TAG, "http://127.0.0.1:4001/acme/example/releases/tag/v1.2.1")
    assert not same_page("https://e.org/s?q=1", "https://e.org/s?q=2")


def test_a_body_links_the_page_not_a_longer_path() -> None:
    body = "Discuss this release on the forum: http://old-forum:3000/t/example-v1-2-0/42\n"
    assert links_to(body, "https://forum.example.org/t/example-v1-2-0/42")
    assert not links_to(body, "https://forum.example.org/t/example-v1-2-0/4")
    assert not links_to("nothing here", "https://forum.example.org/t/example-v1-2-0/42")
    assert not links_to(body, "https://forum.example.org/")  # no path: names no page
