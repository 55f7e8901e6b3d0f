"""The registry clients load their heavy libraries (nio, aiohttp, twine, requests) only when
used: importing the modules, as the CLI and the steps do, must not."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("nio", "aiohttp", "twine", "requests", "synapse", "cryptography")


def test_importing_the_clients_loads_no_heavy_library() -> None:
    probe = (
        "import json, sys\n"
        "import releaser.clients.matrix, releaser.clients.oci\n"
        "import releaser.clients.npm, releaser.clients.pypi\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
