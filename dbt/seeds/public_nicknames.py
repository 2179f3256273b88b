"""Rebuild the carltonnorthern rows of nicknames.csv and nickname_alternates.csv.

    pip download --no-deps nicknames==1.0.1 && unzip -o nicknames-1.0.1-py3-none-any.whl 'nicknames/names.csv'
    .venv/bin/python dbt/seeds/public_nicknames.py nicknames/names.csv

The list is https://github.com/carltonnorthern/nicknames (Apache-2.0): about
2,700 (full name, nickname) pairs in English use. Our curated rows (origin
"curated") stay as they are and win. A nickname of several full names (ron:
aaron, ronald, veronica) gets one in nicknames.csv, which matching uses: the
one it begins (ronald), else the one sharing the longest beginning, else the
first alphabetically; the others go to nickname_alternates.csv, which
identity resolution reads so that a nickname never conflicts with any of its
full names.
"""

from __future__ import annotations

import csv
import sys
from os.path import commonprefix
from pathlib import Path

SEEDS = Path(__file__).resolve().parent
ORIGIN = "carltonnorthern"


def read(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def write(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["nickname", "canonical", "origin"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def primary(nickname: str, names: set[str]) -> str:
    return min(names, key=lambda name: (not name.startswith(nickname), -len(commonprefix([name, nickname])), name))


def main(public_csv: Path) -> None:
    curated = [r | {"origin": "curated"} for r in read(SEEDS / "nicknames.csv") if r.get("origin", "curated") == "curated"]
    alternates = [r | {"origin": "curated"} for r in read(SEEDS / "nickname_alternates.csv") if r.get("origin", "curated") == "curated"]
    known = {(r["nickname"], r["canonical"]) for r in curated + alternates}
    named = {r["nickname"] for r in curated}
    full_names: dict[str, set[str]] = {}
    for row in read(public_csv):
        if row["relationship"] == "has_nickname" and row["name1"] != row["name2"]:
            full_names.setdefault(row["name2"].lower(), set()).add(row["name1"].lower())
    # Matching reads one step, nickname -> full name, so no full name may be a
    # nickname there: a name with nicknames of its own (abigail, listed as a
    # spelling of abbigail too) and a name the curated list reads as a nickname
    # get their other full names as alternates only.
    full = {name for names in full_names.values() for name in names} | {r["canonical"] for r in curated}
    for nickname in sorted(full_names):
        names = full_names[nickname]
        usable = {name for name in names if name not in named}
        if nickname not in named and nickname not in full and usable:
            main_name = primary(nickname, usable)
            curated.append({"nickname": nickname, "canonical": main_name, "origin": ORIGIN})
            names = names - {main_name}
        alternates += [{"nickname": nickname, "canonical": name, "origin": ORIGIN}
                       for name in sorted(names) if (nickname, name) not in known]
    write(SEEDS / "nicknames.csv", curated)
    write(SEEDS / "nickname_alternates.csv", alternates)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
