"""Where `govapp login` keeps the platform address and bearer token: a JSON file readable by its owner only.

The file is `$GOVAPP_CONFIG`, else `$XDG_CONFIG_HOME/govapp/credentials.json`, else
`~/.config/govapp/credentials.json`. `GOVAPP_PLATFORM` and `GOVAPP_TOKEN` in the environment take
precedence (for CI, where a job gets a token from its secret store).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Credentials", "credentials_path", "load_credentials", "save_credentials"]


@dataclass(frozen=True)
class Credentials:
    """What `govapp login` saved: the platform's URL, the bearer token, when it expires (epoch seconds) and the client
    id it was issued to."""
    platform: str
    token: str
    expires_at: int | None = None
    client_id: str | None = None

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= time.time() + 30


def credentials_path() -> Path:
    """Where the credentials are kept: `$GOVAPP_CONFIG`, else `$XDG_CONFIG_HOME/govapp/credentials.json` (default
    `~/.config/govapp/credentials.json`)."""
    if os.environ.get("GOVAPP_CONFIG"):
        return Path(os.environ["GOVAPP_CONFIG"])
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "govapp" / "credentials.json"


def save_credentials(credentials: Credentials) -> Path:
    """Write the credentials with mode 0600 (the folder 0700), replacing the file atomically."""
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(credentials.__dict__, handle, indent=2)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def load_credentials() -> Credentials | None:
    """The credentials from the environment or the file; None if there are none."""
    if os.environ.get("GOVAPP_TOKEN") and os.environ.get("GOVAPP_PLATFORM"):
        return Credentials(os.environ["GOVAPP_PLATFORM"], os.environ["GOVAPP_TOKEN"])
    path = credentials_path()
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return Credentials(data["platform"], data["token"], data.get("expires_at"), data.get("client_id"))
