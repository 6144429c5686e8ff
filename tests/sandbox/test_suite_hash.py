"""Known answer for the suite hash a certification report records (docs/formats.md): sha256 of the suite document
as JSON with sorted keys, json.dumps' default separators (", " and ": "), non-ASCII kept as UTF-8."""

import hashlib

from sandbox.harness import suite_hash

SUITE = {"name": "食品经营许可", "version": "1.0.0",
         "cases": [{"id": "ok", "request": {"method": "GET", "path": "/health"}, "expect": {"status": 200}}]}
CANONICAL = ('{"cases": [{"expect": {"status": 200}, "id": "ok", "request": {"method": "GET", "path": "/health"}}], '
             '"name": "食品经营许可", "version": "1.0.0"}')
SUITE_SHA256 = "b3559356d1dfff66dda90ba4d3240a08112e79a5b5399f126f95124e802168ed"


def test_suite_hash_known_answer():
    assert hashlib.sha256(CANONICAL.encode("utf-8")).hexdigest() == SUITE_SHA256
    assert suite_hash(SUITE) == SUITE_SHA256
    assert suite_hash({"version": "1.0.0", "cases": SUITE["cases"], "name": "食品经营许可"}) == SUITE_SHA256

