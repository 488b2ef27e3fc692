"""Summarise py-spy collapsed stacks: where the server's samples go (inclusive, by our own frames).

python -m benchmarks.stacks PROFILE.txt [--top 25]
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"^(?P<func>[^ ]+) \((?P<file>[^:]+)(?::\d+)?\)$")


def summarise(path: Path, top: int) -> str:
    inclusive: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        seen: set[str] = set()
        for frame in frames:
            m = FRAME.match(frame.strip())
            name = f"{m.group('func')} ({Path(m.group('file')).name})" if m else frame.strip()[:80]
            if ("foureyes" in frame or "sqlalchemy" in frame or "aiosqlite" in frame or "psycopg" in frame
                    or "argon2" in frame or "json" in frame or "pydantic" in frame) and name not in seen:  # fmt: skip
                inclusive[name] += count
                seen.add(name)
        m = FRAME.match(frames[-1].strip())
        leaf[f"{m.group('func')} ({Path(m.group('file')).name})" if m else frames[-1][:80]] += count
    lines = [f"{total} samples", "", "inclusive (foureyes, SQLAlchemy, drivers, json, pydantic):"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in inclusive.most_common(top)]
    lines += ["", "self (leaf frames):"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in leaf.most_common(top)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    print(summarise(args.profile, args.top))


if __name__ == "__main__":
    main()
