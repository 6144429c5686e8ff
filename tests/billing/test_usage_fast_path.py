"""The usage batch endpoint's fast path (billing/api.py ``_plain_record``) answers exactly as the schema: for every
record it takes, ``UsageRecordIn().load`` gives the same dict; every record it declines is left to the schema."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from marshmallow import ValidationError

from billing.api import _plain_record
from billing.schemas import UsageRecordIn

GOOD = {"idempotency_key": "k-1", "order_id": 1, "app_id": 11, "vendor_id": 3, "transaction_ref": "T1",
        "occurred_at": "2026-08-01T10:00:00+08:00"}


@pytest.mark.parametrize("change", [
    {}, {"occurred_at": "2026-08-01T02:00:00Z"}, {"occurred_at": "2026-08-01T02:00:00.123456+00:00"},
    {"occurred_at": "2026-08-01T02:00:00"}, {"occurred_at": "2026-08-01 02:00:00+08:00"},
    {"occurred_at": "20260801T020000+0800"}, {"occurred_at": "2026-02-30T02:00:00Z"}, {"occurred_at": 5},
    {"order_id": True}, {"order_id": 1.0}, {"order_id": 0}, {"order_id": "1"}, {"app_id": -3},
    {"idempotency_key": ""}, {"idempotency_key": "x" * 129}, {"idempotency_key": "x" * 128},
    {"transaction_ref": None}, {"extra": 1},
])
def test_the_fast_path_agrees_with_the_schema(change):
    raw = {**GOOD, **change}
    check(raw)
    missing = dict(raw)
    missing.pop("vendor_id")
    check(missing)


def check(raw):
    plain = _plain_record(dict(raw))  # it completes the record it is given (the request's own parsed JSON)
    try:
        loaded = UsageRecordIn().load(raw)
    except ValidationError:
        assert plain is None, f"the fast path took a record the schema refuses: {raw}"
        return
    if plain is not None:
        assert plain == loaded


@given(st.fixed_dictionaries({
    "idempotency_key": st.text(max_size=130), "order_id": st.one_of(st.integers(), st.booleans(), st.floats()),
    "app_id": st.integers(), "vendor_id": st.integers(), "transaction_ref": st.text(max_size=3),
    "occurred_at": st.one_of(st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()), st.text(max_size=30)),
}))
def test_the_fast_path_agrees_with_the_schema_on_any_record(raw):
    check(raw)
