#!/usr/bin/env bash
# `make check-latest`: install the newest releases the pyproject.toml ranges allow (not the lock) into a scratch
# venv and run the tests that need no database or service. A failure here is upstream drift to deal with
# deliberately (docs/operations.md, "Dependencies"): fix what the new release breaks and `make lock UPGRADE=<it>`,
# or narrow the range with a comment saying why. Never run by CI: what it installs changes from day to day.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-latest
python3 -m venv --clear "$venv"
"$venv/bin/pip" install -q --upgrade pip
"$venv/bin/pip" install -q --upgrade --upgrade-strategy eager -e '.[test]' -e ./suite -e './sdk[cli]'
echo "newest allowed releases that differ from the lock:"
"$venv/bin/pip" list --format=freeze | tr 'A-Z_' 'a-z-' | sort > "$venv/latest.txt"
grep -E '^[a-z0-9._-]+==' requirements/dev.txt | sed 's/ .*//' | tr 'A-Z_' 'a-z-' | sort > "$venv/locked.txt"
comm -13 "$venv/locked.txt" "$venv/latest.txt" | grep -v -E '^(govmarket|govapp-sdk|govapp-suite|pip|setuptools)==' || echo "  (none)"
TEST_DB_FREE=1 "$venv/bin/pytest" -q -p no:cacheprovider "$@"
