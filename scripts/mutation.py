"""`make mutation`: mutation testing of the code where a silent change costs money, identity or isolation.

mutmut (configured in pyproject.toml, [tool.mutmut]) copies the packages into mutants/, generates every mutant of
the modules below and runs, for each mutant, the tests of the selection that reach the mutated function. This
script chooses which mutants run (all, or a seeded sample per module), runs them with one `mutmut run`, and prints
each module's caught share: killed (a test failed, or the mutant hung) over the mutants that can change behaviour.
A surviving mutant that cannot change behaviour is listed in tests/mutation-equivalents.toml with its reason and
leaves the denominator; every other survivor is printed with its diff. docs/testing.md says how to read it.

    .venv/bin/python scripts/mutation.py                      # every module, every mutant
    .venv/bin/python scripts/mutation.py --sample 60          # 60 mutants per module, seed 23
    .venv/bin/python scripts/mutation.py billing/formula.py   # one module

mutmut has no command that only generates mutants or prints a mutant's diff, so this script calls its generation
and diff functions directly; that is why pyproject.toml keeps mutmut within one minor release.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import random
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENTS = ROOT / "tests" / "mutation-equivalents.toml"
LOG = ROOT / "mutants" / "mutmut-run.log"
TARGET_SHARE = 0.95

# module -> the functions whose mutants count ("*": all of them).
MODULES: dict[str, tuple[str, ...]] = {
    "billing/formula.py": ("*",),
    "billing/settlement.py": ("*",),
    "billing/ledger.py": ("*",),
    # The figures of the finance report and the payout file; the PDF layout and the chart drawing are not money.
    "billing/reports.py": ("rating_text", "yuan", "money_text", "build_finance_report", "finance_report_csv",
                           "payout_rows", "payout_csv", "AppRow*", "Group*", "FinanceReport*"),
    "core/money.py": ("*",),
    "core/ids.py": ("*",),
    "mockdata/identifiers.py": ("*",),
    # The department's side of a citizen's delegation: who and what an app may read (issue #12).
    "mockdata/delegation.py": ("*",),
    "sandbox/intake.py": ("*",),
}
CAUGHT = {"killed", "timeout"}


def dotted(module: str) -> str:
    return module.removesuffix(".py").replace("/", ".")


def function_of(mutant: str) -> str:
    """``billing.formula.x_settle_order__mutmut_3`` -> ``settle_order``; methods as ``Money.__add__``."""
    mangled = mutant.partition("__mutmut_")[0].rpartition(".")[2]
    if "ǁ" in mangled:
        _, cls, method = mangled.split("ǁ")
        return f"{cls}.{method}"
    return mangled.removeprefix("x_")


def selected(module: str, mutant: str) -> bool:
    name = function_of(mutant)
    return any(fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(name.split(".")[0], pattern)
               for pattern in MODULES[module])


def generate() -> dict[str, list[str]]:
    """Generate (or refresh) mutants/ and return each module's mutant names."""
    os.chdir(ROOT)
    from mutmut.__main__ import copy_also_copy_files, copy_src_dir, create_mutants

    LOG.parent.mkdir(exist_ok=True)
    # mutmut's cache of which test reaches which function missed tests added or changed since it was written
    # (mutants survived tests that kill them when run by hand); collecting it afresh costs a few minutes.
    (ROOT / "mutants" / "mutmut-stats.json").unlink(missing_ok=True)
    with open(LOG, "w") as log:
        saved = os.dup(1)
        os.dup2(log.fileno(), 1)  # mutmut prints every file it copies
        try:
            copy_src_dir()
            copy_also_copy_files()
            create_mutants(os.cpu_count() or 2)
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
    names = {}
    for module in MODULES:
        meta = json.loads((ROOT / "mutants" / f"{module}.meta").read_text("utf-8"))
        names[module] = sorted(m for m in meta["exit_code_by_key"] if selected(module, m))
    return names


def results(module: str) -> dict[str, int | None]:
    meta = json.loads((ROOT / "mutants" / f"{module}.meta").read_text("utf-8"))
    return meta["exit_code_by_key"]


def changed_lines(mutant: str, module: str) -> tuple[str, str]:
    """The lines the mutant removes and adds, each joined and stripped (how the equivalents file names a mutant)."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    diff = get_diff_for_mutant(mutant, path=module).splitlines()
    minus = " / ".join(line[1:].strip() for line in diff if line.startswith("-") and not line.startswith("---"))
    plus = " / ".join(line[1:].strip() for line in diff if line.startswith("+") and not line.startswith("+++"))
    return minus, plus


@dataclass
class Equivalent:
    module: str
    function: str
    before: str
    after: str
    reason: str
    used: bool = False

    def matches(self, module: str, mutant: str, before: str, after: str) -> bool:
        return (self.module, self.function, self.before, self.after) == (module, function_of(mutant), before, after)


def load_equivalents() -> list[Equivalent]:
    data = tomllib.loads(EQUIVALENTS.read_text("utf-8"))
    return [Equivalent(e["module"], e["function"], e["before"], e["after"], e["reason"])
            for e in data.get("equivalent", [])]


@dataclass
class Tally:
    module: str
    run: int = 0
    caught: int = 0
    equivalent: list[tuple[str, str]] = field(default_factory=list)
    missed: list[tuple[str, str, str, str]] = field(default_factory=list)  # name, status, before, after

    @property
    def behaviour_changing(self) -> int:
        return self.run - len(self.equivalent)

    @property
    def share(self) -> float:
        return self.caught / self.behaviour_changing if self.behaviour_changing else 1.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help=f"modules to mutate (default: all): {', '.join(MODULES)}")
    parser.add_argument("--sample", type=int, default=0, help="run a seeded sample of this many mutants per module")
    parser.add_argument("--seed", type=int, default=23)
    args = parser.parse_args(argv)
    unknown = [m for m in args.modules if m not in MODULES]
    if unknown:
        parser.error(f"not a mutation-tested module: {', '.join(unknown)} (choose from {', '.join(MODULES)})")
    modules = args.modules or list(MODULES)

    started = time.monotonic()
    names = generate()
    chosen: dict[str, list[str]] = {}
    for module in modules:
        pool = names[module]
        rng = random.Random(f"{args.seed}:{module}")  # noqa: S311  (a reproducible sample, not a secret)
        chosen[module] = sorted(rng.sample(pool, min(args.sample, len(pool))) if args.sample else pool)
    todo = [n for m in modules for n in chosen[m]]
    what = f"a sample of {args.sample} per module (seed {args.seed})" if args.sample else "every mutant"
    print(f"mutation testing {len(todo)} mutants of {len(modules)} module(s), {what}; mutmut's output: {LOG.relative_to(ROOT)}",
          flush=True)
    env = {**os.environ, "HYPOTHESIS_PROFILE": "mutation"}
    with open(LOG, "a") as log:
        proc = subprocess.run([str(Path(sys.executable).with_name("mutmut")), "run", *todo], cwd=ROOT, env=env,  # noqa: S603
                              stdout=log, stderr=subprocess.STDOUT, check=False)
    if proc.returncode:
        print(LOG.read_text("utf-8", errors="replace")[-4000:])
        print(f"mutmut failed (exit {proc.returncode}); its whole output is in {LOG.relative_to(ROOT)}")
        return 2

    from mutmut.stats import status_by_exit_code

    equivalents = load_equivalents()
    tallies = []
    for module in modules:
        tally = Tally(module)
        codes = results(module)
        for name in chosen[module]:
            status = status_by_exit_code[codes.get(name)]
            tally.run += 1
            if status in CAUGHT:
                tally.caught += 1
                continue
            before, after = changed_lines(name, module)
            known = next((e for e in equivalents if e.matches(module, name, before, after)), None)
            if known:
                known.used = True
                tally.equivalent.append((name, known.reason))
            else:
                tally.missed.append((name, status, before, after))
        tallies.append(tally)

    print()
    for t in tallies:
        for name, status, before, after in t.missed:
            print(f"{status}: {name}\n    - {before}\n    + {after}")
    print()
    print(f"{'module':<26} {'mutants':>7} {'equivalent':>10} {'caught':>7} {'missed':>7} {'caught share':>13}")
    for t in tallies:
        mark = "" if t.share >= TARGET_SHARE else f"  below {TARGET_SHARE:.0%}"
        print(f"{t.module:<26} {t.run:>7} {len(t.equivalent):>10} {t.caught:>7} {len(t.missed):>7} "
              f"{t.share:>12.1%}{mark}")
    listed = [e for e in equivalents if e.module in modules]
    print(f"\nequivalent mutants ({EQUIVALENTS.relative_to(ROOT)}), each with why it cannot change behaviour:")
    for e in listed:
        seen = "" if e.used or args.sample else "  [no such mutant survived: remove or correct this entry]"
        print(f"  {e.module} {e.function}: {e.before!r} -> {e.after!r}: {e.reason}{seen}")
    minutes, seconds = divmod(int(time.monotonic() - started), 60)
    print(f"\n{len(todo)} mutants in {minutes} min {seconds} s")
    return 0 if all(t.share >= TARGET_SHARE for t in tallies) else 1


if __name__ == "__main__":
    sys.exit(main())
