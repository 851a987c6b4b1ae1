"""Benchmark: rescanning a catalog of N challenge specs.

The catalog issue's figure: "1,000 specs rescan in seconds".

Writes a realistic ctfcli-style catalog of N specs to a temporary folder (see
challenges/catalog/FORMAT.md): categories, static/regex/case-insensitive/derived
flags, tags, topics, hints, a handed-out text file for about a third (some with
a {flag:...} placeholder), dynamic scoring for some, requirements naming other
challenges (ctfcli lists and LispIsh) and a few multi-question specs. Then, on a
throw-away database (SQLite, or PostgreSQL when DATABASE_URL is set, see
bench/_common.py), times `challenges.services.catalog_rescan`:

  first          empty database: every spec added
  unchanged      same catalog again: every spec unchanged, nothing written
  10 touched     10 specs edited (description): 10 updated
  cold cache     unchanged catalog with the parsed-spec cache (_SPEC_CACHE) and the
                 requirement compile cache cleared: a new process's first rescan
  scan only      challenges.catalog.scan_catalog without a cache: parsing alone

Queries are counted with a connection execute wrapper (a bulk insert is one).

Run:  .venv/bin/python bench/rescan.py [-n 1000] [--runs 3]
      tests/services.sh .venv/bin/python bench/rescan.py   # PostgreSQL
"""

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import add_db_options, load, throwaway_database

CATEGORIES = ["web", "crypto", "pwn", "rev", "forensics", "misc"]
WORDS = ("token cookie buffer cipher packet kernel parser socket header nonce "
         "padding oracle stack heap format string login upload template").split()


def name_of(i: int) -> str:
    return f"Chal {i:04d}"


def flag_line(i: int, rng: random.Random) -> str:
    return rng.choice([
        f"CTF{{flag_{i}}}",
        f'{{type: static, content: "ctf{{any_case_{i}}}", data: case_insensitive}}',
        f"{{type: regex, content: 'CTF\\{{{i}_[0-9a-f]{{8}}\\}}'}}",
        f'{{type: derived, template: "CTF{{team_{i}_{{hash}}}}"}}',
    ])


def spec_text(i: int, rng: random.Random) -> tuple[str, dict[str, str]]:
    """One challenge.yml and its handed-out files."""
    category = CATEGORIES[i % len(CATEGORIES)]
    words = " ".join(rng.choices(WORDS, k=40))
    lines = [f"name: {name_of(i)}", f"author: author{i % 17}", f"category: {category}",
             "description: |", f"  Challenge {i}: {words}.", "",
             "  ```sh", f"  nc chal{i}.example.org 31337", "  ```"]
    if i % 7 == 3:
        lines += ["type: dynamic", "extra:", "  initial: 500", "  decay: 15",
                  "  minimum: 100"]
    else:
        lines += ["type: standard", f"value: {rng.randint(1, 5) * 100}"]
    files = {}
    if i % 3 == 0:
        body = "\n".join(rng.choices(WORDS, k=200)) + "\n"
        if i % 6 == 0:
            body += "key: {flag:main}\n"
        files["dist/notes.txt"] = body
        lines.append("files: [dist/notes.txt]")
    if i % 25 == 7:  # several questions
        lines.append("questions:")
        for k in range(rng.randint(2, 3)):
            lines += [f"  - key: q{k}", f"    name: Part {k + 1}",
                      f"    points: {(k + 1) * 50}", "    attempts: 5",
                      f'    flags: ["CTF{{part_{i}_{k}}}"]']
        files.pop("dist/notes.txt", None)
        lines = [ln for ln in lines if not ln.startswith("files:")]
    else:
        lines += ["attempts: 0", "flags:", f"  - {flag_line(i, rng)}"]
    hint = f"{{title: Nudge, content: Look at the {rng.choice(WORDS)}, cost: 10}}"
    lines += [f"tags: [{category}, {rng.choice(WORDS)}, {{value: level{i % 4}}}]",
              f"topics: [{rng.choice(WORDS)}]", "hints:", "  - This one is free",
              f"  - {hint}"]
    if i >= 10 and i % 10 == 1:
        lines.append(f"requirements: [{name_of(rng.randrange(i))}]")
    elif i >= 10 and i % 10 == 2:
        lines += [f"requirements: '(AND (COMPLETED \"{name_of(rng.randrange(i))}\")"
                  f" (>= (USER-SCORE) {rng.randint(1, 9) * 100}))'",
                  "locked_visibility: preview"]
    lines.append('version: "0.1"')
    return "\n".join(lines) + "\n", files


def write_catalog(root: Path, n: int, rng: random.Random) -> list[Path]:
    specs = []
    for i in range(n):
        folder = root / CATEGORIES[i % len(CATEGORIES)] / f"chal-{i:04d}"
        text, files = spec_text(i, rng)
        for rel, body in files.items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_text(body)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "challenge.yml").write_text(text)
        specs.append(folder / "challenge.yml")
    return specs


def measured(fn):
    """Run fn(); return (seconds, CPU seconds, queries, its result)."""
    from django.db import connection

    count = 0

    def counter(execute, sql, params, many, context):
        nonlocal count
        count += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counter):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = fn()
        cpu = time.process_time() - start_cpu
        seconds = time.perf_counter() - start
    return seconds, cpu, count, result


def outcome(report) -> str:
    parts = [f"{len(getattr(report, k))} {k}" for k in
             ("added", "updated", "unchanged", "hidden", "rejected")]
    return ", ".join(p for p in parts if not p.startswith("0 ")) + (
        f", {len(report.warnings)} warnings" if report.warnings else "")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=1000,
                        help="number of specs (default 1000)")
    parser.add_argument("--runs", type=int, default=3,
                        help="repeats of every step but the first (default 3)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    add_db_options(parser)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    with tempfile.TemporaryDirectory(prefix="ctf-catalog-") as tmp, \
            throwaway_database(args.pg_db) as label:
        from challenges import services
        from challenges.catalog import scan_catalog
        from challenges.models import Challenge, ChallengeFile, Question
        from requirements.compiled import compile_requirement

        root = Path(tmp)
        start = time.perf_counter()
        specs = write_catalog(root, args.n, rng)
        print(f"Database: {label}\nCatalog: {args.n} specs written to {root} in "
              f"{time.perf_counter() - start:.2f} s; runs per step: {args.runs}; "
              f"{load()}")

        def rescan():
            return services.catalog_rescan(catalog=root)

        def cold_rescan():
            services._SPEC_CACHE.clear()
            compile_requirement.cache_clear()
            return rescan()

        def touch(k: int):
            for path in specs[k * 10:(k + 1) * 10]:
                path.write_text(path.read_text().replace(
                    "description: |", f"description: |\n  Edited ({k}).", 1))
            return rescan()

        rows = [("first", [measured(rescan)])]
        steps = [("unchanged", lambda k: rescan()), ("10 touched", touch),
                 ("cold cache", lambda k: cold_rescan()),
                 ("scan only", lambda k: scan_catalog(root))]
        for name, step in steps:
            rows.append((name, [measured(lambda s=step, k=k: s(k))
                                for k in range(args.runs)]))
        totals = (Challenge.objects.count(), Question.objects.count(),
                  ChallengeFile.objects.count(),
                  Challenge.objects.exclude(requirement="").count())

    print(f"\n{'step':<11} {'median s':>8} {'max s':>6} {'cpu s':>6} {'queries':>7}"
          "  outcome")
    for name, results in rows:
        times = [s for s, _, _, _ in results]
        cpu = statistics.median(c for _, c, _, _ in results)
        report = results[-1][3]
        what = (outcome(report) if hasattr(report, "added") else
                f"{len(report.specs)} specs parsed, {len(report.rejected)} rejected")
        print(f"{name:<11} {statistics.median(times):8.3f} {max(times):6.3f} "
              f"{cpu:6.3f} {results[-1][2]:7d}  {what}")
    print("\nchallenges {}, questions {}, files {}, with requirements {}".format(
        *totals))
    print(load())
    return 0


if __name__ == "__main__":
    sys.exit(main())
