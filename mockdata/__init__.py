"""Deterministic synthetic datasets and the simulated department services (no platform imports).

- ``mockdata.specs``: named, versioned dataset specs (``citizens-v1``) and their registry.
- ``mockdata.generator`` / ``mockdata.output``: generation as a stream of chunks, written as JSONL or SQLite.
- ``mockdata.scenarios``: the named records every dataset holds for suites to refer to.
- ``mockdata.service`` / ``mockdata.server``: the department WSGI app and its unix-socket/TCP servers.
- ``mockdata.cli``: ``python -m mockdata`` (mounted on the platform as ``govmarket mockdata``).

See docs/mockdata.md.
"""

from mockdata.cli import cli


def init_app(app) -> None:
    """Mount these commands on the platform as `govmarket mockdata`."""
    app.cli.add_command(cli, "mockdata")
