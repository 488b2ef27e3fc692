"""Render benchmarks/results/*.json as the Markdown tables of docs/performance.md.

python -m benchmarks.report            # print the tables
python -m benchmarks.report --write    # replace the generated block in docs/performance.md
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from benchmarks.common import RESULTS, ROOT

DOC = ROOT / "docs" / "performance.md"
START, END = "<!-- results:start (python -m benchmarks.report --write) -->", "<!-- results:end -->"
STORES = ("sqlite", "postgresql")


def _load(name: str) -> dict[str, dict[str, Any]]:
    out = {}
    for store in STORES:
        path = RESULTS / f"{name}-{store}.json"
        if path.exists():
            out[store] = json.loads(path.read_text())
    return out


def _conditions(data: dict[str, Any]) -> str:
    b, a = data["load_before"], data.get("load_after") or {}
    return f"{data['started']}, load {b['load1']} → {a.get('load1', '?')}"


def _met(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


def create_table() -> list[str]:
    runs = _load("create")
    if not runs:
        return []
    lines = [
        "| store | driver | bare req/s | create req/s | ratio | create p50 / p99 ms | server CPU ms/req bare · create "
        "| durable | target ≥ 0.50 | when, load |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for store, d in runs.items():
        f = d["figures"]
        cpu_bare = sorted(r["bare"]["server_cpu_ms_per_request"] for r in f["rounds"])[len(f["rounds"]) // 2]
        cpu_create = sorted(r["create"]["server_cpu_ms_per_request"] for r in f["rounds"])[len(f["rounds"]) // 2]
        lines.append(
            f"| {store} | {f['driver']} c={d['params']['concurrency']} | {f['bare_per_second_median']} "
            f"| {f['create_per_second_median']} | {f['ratio_median']:.3f} "
            f"| {f['create_p50_ms_median']} / {f['create_p99_ms_median']} | {cpu_bare} · {cpu_create} "
            f"| {f['stored_requests']} stored ≥ {f['acknowledged_creates']} acknowledged "
            f"| {_met(f['ratio_median'] >= 0.5)} | {_conditions(d)} |"
        )
    return ["#### (a) Create-request throughput (medians of the rounds)", "", *lines, ""]


def e2e_table() -> list[str]:
    runs = _load("e2e")
    for store in STORES:  # the one-client latency runs sit beside the 16-client ones
        path = RESULTS / f"e2e-{store}-c1.json"
        if path.exists():
            runs[f"{store} "] = json.loads(path.read_text())
    if not runs:
        return []
    lines = [
        "| store | clients · seconds | workflows | workflows/s | approval→approved p50 / p99 ms | errors "
        "| RSS MiB first · last · max | targets (≥ 300/s SQLite; p99 < 50 ms) | when, load |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for store, d in runs.items():
        f = d["figures"]
        store = store.strip()
        rate_ok = f["workflows_per_second"] >= 300 if store == "sqlite" else True
        p99_ok = f["approval_to_approved_p99_ms"] < 50
        rss = " · ".join(str(x) for x in f["rss_mib_first_last_max"])
        targets = (f"rate {_met(rate_ok)}, " if store == "sqlite" else "") + f"p99 {_met(p99_ok)}"
        lines.append(
            f"| {store} | {d['params']['concurrency']} · {f['seconds']} | {f['workflows']} "
            f"| {f['workflows_per_second']} | {f['approval_to_approved_p50_ms']} / {f['approval_to_approved_p99_ms']} "
            f"| {f['errors']} | {rss} | {targets} | {_conditions(d)} |"
        )
    return ["#### (b) End-to-end workflows", "", *lines, ""]


def latency_table() -> list[str]:
    runs = _load("latency")
    if not runs:
        return []
    lines = [
        "| store | offered/s | finished/s | approval→approved p50 / p95 / p99 ms | server CPU (cores) | saturated "
        "| p99 < 50 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    notes = []
    for store, d in runs.items():
        f = d["figures"]
        for step in f["steps"]:
            lines.append(
                f"| {store} | {step['offered_per_second']:g} | {step['achieved_per_second']} "
                f"| {step['approval_p50_ms']} / {step['approval_p95_ms']} / {step['approval_p99_ms']} "
                f"| {step['server_cpu_share']} | {'yes' if step['saturated'] else 'no'} "
                f"| {_met(step['approval_p99_ms'] < 50 and not step['saturated'])} |"
            )
        best = f["highest_offered_rate_with_p99_under_50ms"]
        within = f"p99 under 50 ms up to {best:g} workflows/s offered" if best is not None else "no step under 50 ms"
        notes.append(
            f"{store}: {within}, {f['workflows']} workflows, {f['errors']} errors, exactly one earn each: "
            f"{'yes' if f['exactly_one_earn_each'] else 'NO'}; {d['params']['duration']:g} s a step; {_conditions(d)}"
        )
    return ["#### (b') Approval latency against offered load (open loop)", "", *lines, "", "; ".join(notes) + ".", ""]


def list_table() -> list[str]:
    runs = _load("list")
    if not runs:
        return []
    lines = [
        "| store | stored requests | query | PageNo | p50 ms | p95 ms | target p95 < 20 ms (at 1M) |",
        "|---|---|---|---|---|---|---|",
    ]
    for store, d in runs.items():
        for size in d["figures"]["sizes"]:
            for name, q in size["queries"].items():
                target = _met(q["p95_ms"] < 20) if size["rows"] >= 1_000_000 else ""
                lines.append(
                    f"| {store} | {size['rows']:,} | {name} | {q['params']['PageNo']} | {q['p50_ms']} "
                    f"| {q['p95_ms']} | {target} |"
                )
    conditions = "; ".join(f"{s}: {_conditions(d)}" for s, d in runs.items())
    return ["#### (c) List API and checker inbox", "", *lines, "", f"Conditions: {conditions}.", ""]


def badges_table() -> list[str]:
    runs = _load("badges")
    if not runs:
        return []
    lines = [
        "| store | phase | clients | earns/s | p50 / p99 ms | answers | server CPU ms/earn |",
        "|---|---|---|---|---|---|---|",
    ]
    notes = []
    for store, d in runs.items():
        f = d["figures"]
        for phase in ("sequential", "concurrent", "race"):
            p = f[phase]
            clients = 1 if phase == "sequential" else d["params"]["concurrency"]
            lines.append(
                f"| {store} | {phase} | {clients} | {p['per_second']} | {p['p50_ms']} / {p['p99_ms']} "
                f"| {p['answers']} | {p['server_cpu_ms_per_earn']} |"
            )
        race = f["race"]
        notes.append(
            f"{store}: race limit {race['limit']}, earned {race['earned']} "
            f"({'held' if race['limit_held'] else 'NOT held'}); {_conditions(d)}"
        )
    return ["#### (d) Badge earn with limits enforced", "", *lines, "", "; ".join(notes) + ".", ""]


def render() -> str:
    parts = create_table() + e2e_table() + latency_table() + list_table() + badges_table()
    return "\n".join(parts) if parts else "_No results yet._\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    text = render()
    if not args.write:
        print(text)
        return
    doc = DOC.read_text()
    head, _, rest = doc.partition(START)
    _, _, tail = rest.partition(END)
    DOC.write_text(f"{head}{START}\n{text}\n{END}{tail}")
    print(f"updated {DOC}")


if __name__ == "__main__":
    main()
