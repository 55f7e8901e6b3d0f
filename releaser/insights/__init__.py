"""Release insights: where a release's time went (``releaser report``, docs/report.md).

Everything is computed from what the forge and the release's ledger hold, so a report is
the same from any machine:

- :mod:`.timeline` reads one release (its ledger's stage runs and answers, its workflow runs
  and their jobs, the approvals of its pull request) into the report's JSON document;
- :mod:`.trends` summarises the releases since a version, one row each;
- :mod:`.terminal` and :mod:`.html` draw the document (rich tables and bars; one
  self-contained HTML page with inline SVG, no script, nothing fetched).

The renderers read only the documented JSON document, so ``releaser report --json`` output
holds everything the pictures show.
"""
