"""The one error of the suite format."""

from __future__ import annotations

from collections.abc import Sequence


class SuiteError(ValueError):
    """A suite that does not follow the format; `problems` lists each bad field."""

    def __init__(self, problems: Sequence[str], source: str = "suite"):
        self.problems = list(problems)
        super().__init__(f"{source} is not a valid suite:\n" + "\n".join(f"  - {p}" for p in self.problems))
