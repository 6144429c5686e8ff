"""Black-box certification of uploaded apps: bundle intake, runtime image, isolation backends,
the test harness and the certification jobs (ARCHITECTURE.md §5). Imports only core, mockdata and
``govsuite``."""

from flask import Flask

from sandbox import cli, models  # noqa: F401  (models: the tables)


def init_app(app: Flask) -> None:
    """The certification tables and `govmarket sandbox`."""
    app.cli.add_command(cli.sandbox_cli)
