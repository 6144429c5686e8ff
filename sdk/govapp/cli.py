"""The `govapp` command line."""

import sys


def main() -> None:
    print("govapp: commands arrive with the SDK issue", file=sys.stderr)
    sys.exit(2)
