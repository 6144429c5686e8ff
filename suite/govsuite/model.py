"""The model of one acceptance case: the request it sends and what it expects."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

_MISSING = object()


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)
    json: Any = _MISSING
    body: str | None = None

    @property
    def has_json(self) -> bool:
        return self.json is not _MISSING

    def body_bytes(self) -> bytes | None:
        """The bytes to send: the JSON body, the raw body, or None."""
        if self.has_json:
            return json.dumps(self.json, ensure_ascii=False).encode("utf-8")
        if self.body is not None:
            return self.body.encode("utf-8")
        return None

    def content_type(self) -> str | None:
        if self.has_json or self.body is not None:
            return self.headers.get("Content-Type") or "application/json"
        return None

    def target(self) -> str:
        """Path plus the encoded query string."""
        if not self.query:
            return self.path
        return self.path + "?" + urlencode({k: _query_value(v) for k, v in sorted(self.query.items())})


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class Case:
    """One acceptance case. `raw` is the case as written (after scenario resolution)."""

    id: str
    category: str
    visibility: str
    request: Request
    repeat: int
    expect: dict
    submissions: list
    identity: dict | None
    description: str = ""
    generated: bool = False
    raw: dict = field(default_factory=dict, compare=False)
    # Which of the app's declared department fields the case's citizen delegates: "all" (required and optional, as
    # a citizen who ticked everything) or "required" (the optional ones withheld, as a citizen who left them unticked).
    consent: str = "all"

    def requests(self) -> list[Request]:
        """The requests to send, in order; the last response is the one the expectations judge."""
        return [self.request] * self.repeat

    @classmethod
    def from_dict(cls, data: Mapping, generated: bool = False) -> Case:
        req = data["request"]
        request = Request(
            method=req["method"],
            path=req["path"],
            query=dict(req.get("query") or {}),
            headers=dict(req.get("headers") or {}),
            json=copy.deepcopy(req["json"]) if "json" in req else _MISSING,
            body=req.get("body"),
        )
        return cls(
            id=data["id"],
            category=data["category"],
            visibility=data.get("visibility", "public"),
            request=request,
            repeat=int(req.get("repeat", 1)),
            expect=copy.deepcopy(dict(data["expect"])),
            submissions=copy.deepcopy(list(data.get("submissions") or [])),
            identity=copy.deepcopy(data.get("identity")),
            description=data.get("description", ""),
            generated=generated,
            raw=copy.deepcopy(dict(data)),
            consent=data.get("consent", "all"),
        )


