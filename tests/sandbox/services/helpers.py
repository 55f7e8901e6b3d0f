"""The sandbox's admin API for service tests (importable from any test directory)."""

from __future__ import annotations

from typing import Any

import httpx

from releaser.sandbox.server import SandboxServer


class Admin:
    """``/_admin`` of a started sandbox: create users, rooms, keys; add faults; read the log."""

    def __init__(self, sandbox: SandboxServer) -> None:
        self.client = httpx.Client(base_url=sandbox.info()["admin_url"] + "/", timeout=30)

    def post(self, path: str, body: Any) -> Any:
        response = self.client.post(path, json=body)
        assert response.status_code in (200, 201), response.text
        return response.json()

    def get(self, path: str, **params: Any) -> Any:
        response = self.client.get(path, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def fault(self, **rule: Any) -> None:
        self.post("faults", rule)

    def log(self) -> list[dict[str, Any]]:
        return list(self.get("requests"))

    def close(self) -> None:
        self.client.close()
