"""Secret redaction: every secret value of the process, in every form it can take in text.

A token can reach text stripped or not, repr-escaped (``'ghp_…\\n'``), URL-encoded, JSON-escaped
or inside a Basic ``Authorization`` header (base64 of ``user:password``). ``Redactor.add``
registers each of those forms; ``redact`` hides all of them.
"""

from __future__ import annotations

import base64
import json
import threading
from urllib.parse import quote

REDACTED = "***"
MIN_LENGTH = 4  # shorter values would redact ordinary words


class Redactor:
    """Holds the secret values of this process; ``redact`` hides them in any text."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._ordered: list[str] = []
        self._lock = threading.Lock()

    def add(self, value: str | None) -> None:
        """Register a secret and its variants (stripped, escaped, URL-encoded)."""
        if not value:
            return
        forms = {value, value.strip()}
        for form in list(forms):
            forms.add(repr(form)[1:-1])
            forms.add(json.dumps(form)[1:-1])
            forms.add(quote(form, safe=""))
            forms.add(quote(form))
        self._register(forms)

    def add_basic(self, user: str, password: str) -> None:
        """A password used in HTTP Basic auth: the password and the header's base64 form."""
        self.add(password)
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self._register({token})

    def _register(self, forms: set[str]) -> None:
        with self._lock:
            new = {f for f in forms if len(f) >= MIN_LENGTH} - self._secrets
            if new:
                self._secrets |= new
                self._ordered = sorted(self._secrets, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._ordered:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def __contains__(self, value: str) -> bool:
        return value in self._secrets
