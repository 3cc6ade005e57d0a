"""`python -m bench [--quick] [--only SCENARIO]`: run the benchmarks, print tables, write JSON."""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench import concurrency, overhead, real_cli, waiting, waiting_ingestion
from bench import requests as requests_scenario
from bench.common import REPO, Table, fmt_bytes, fmt_seconds, log, machine, median

SCENARIOS = ("waiting", "ingestion", "concurrency", "overhead", "realcli", "requests")
DESCRIPTIONS = {
    "waiting": "our waiter vs azure-core LROPoller, fixed 30 s / 5 s loops and an oracle",
    "ingestion": "waiting on a Product Ingestion go-live (job, then live submission) vs "
                 "cloudpub's 300 s loop and one poll a minute",
    "concurrency": "N offers going live at once through the dynamic host and the plugin",
    "overhead": "per-resource RPC latency, plugin start-up, pickled provider size",
    "realcli": "20 offers in one `pulumi up` of the real CLI (built by tools/pulumi-cli)",
    "requests": "requests per go-live by kind, per API (Partner Portal, Product Ingestion) and "
                "situation (fresh, attach, adopt, lost answer, refresh)",
}
RESULTS = Path(__file__).resolve().parent / "results"


def _parser() -> argparse.ArgumentParser:
    scenarios = "\n".join(f"  {name:<12} {DESCRIPTIONS[name]}" for name in SCENARIOS)
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=(
            "Benchmarks of the marketplace provider against what users would otherwise run, "
            "all on the local Partner Portal emulator. Prints one table per scenario and writes "
            "the figures as JSON (and the tables as Markdown) under bench/results/."
        ),
        epilog=(
            f"scenarios:\n{scenarios}\n\n"
            "The full run takes about 11.5 minutes on a 2-core machine (runs are capped so it\n"
            "stays under ~14); --quick under 2.5.\n"
            "Results: bench/results/latest.{json,md} (full run), quick.{json,md} (--quick);\n"
            "with --only the file names get the scenario names appended."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true",
                        help="a reduced set (shorter operations, fewer N and repetitions)")
    parser.add_argument("--only", action="append", choices=SCENARIOS, metavar="SCENARIO",
                        help=f"run only this scenario (repeatable): {', '.join(SCENARIOS)}")
    parser.add_argument("--results-dir", type=Path, default=RESULTS,
                        help="where to write JSON and Markdown (default: bench/results)")
    parser.add_argument("--no-write", action="store_true",
                        help="print the tables only; write no files")
    return parser


def _jsonable(value: Any) -> Any:
    """NaN/inf are not JSON: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _markdown(tables: list[Table], meta: dict[str, Any], data: dict[str, Any]) -> str:
    m = meta["machine"]
    lines = [
        "# Benchmark results",
        "",
        f"Produced by {_how(meta['command'])} on {meta['finished']} in "
        f"{meta['runtime_s'] / 60:.1f} min.",
        "",
        f"- machine: `{m['uname']}`",
        f"- cores: {m['cores']} ({m['cpu'] or 'unknown CPU'}), memory "
        f"{m['memory_bytes'] / 2**30:.0f} GiB, load average at start "
        f"{', '.join(f'{x:.2f}' for x in m['load_average_at_start'])}",
        f"- Python {m['python']}",
        "",
    ]
    summary = meaning(data)
    if summary:
        lines += ["## What this means for a user", "", summary, ""]
    for table in tables:
        lines += [table.markdown(), ""]
    return "\n".join(lines)


def _how(command: str) -> str:
    make = {"python -m bench": "make bench", "python -m bench --quick": "make bench-quick"}
    if command in make:
        return f"`{make[command]}` (`{command}`)"
    return f"`{command}`"


def meaning(data: dict[str, Any]) -> str:
    """One paragraph, from the figures of this run, on what they mean for a user."""
    parts: list[str] = []
    cells = data.get("waiting", {}).get("cells", [])
    longest = max((c["length_s"] for c in cells), default=None)
    cell = next((c for c in cells if c["length_s"] == longest and c["step_estimates"]
                 and c.get("answer_shape", "linear") == "linear"
                 and not c["retry_after_s"]), None)
    if cell is not None:
        w = cell["waiters"]
        length = fmt_seconds(cell["length_s"]).replace(".0 ", " ")
        parts.append(
            f"On a {length} go-live (step estimates present, no Retry-After) our waiter made "
            f"{w['ours']['gets_mean']:.0f} GET requests where a 30-second polling loop made "
            f"{w['fixed-30s']['gets_mean']:.0f} and azure-core's LROPoller "
            f"{w['azure-core']['gets_mean']:.0f}, and it returned "
            f"{w['ours']['delay_mean_s']:.1f} s after the go-live ended on average (30-second "
            f"loop: {w['fixed-30s']['delay_mean_s']:.1f} s, azure-core: "
            f"{w['azure-core']['delay_mean_s']:.1f} s).")
    short = next((c for c in sorted(cells, key=lambda c: c["length_s"])
                  if c["length_s"] >= 60 and not c["retry_after_s"] and c["step_estimates"]
                  and c["waiters"]["ours"]["gets_mean"] > c["waiters"]["fixed-30s"]["gets_mean"]
                  / 3), None)
    if short is not None:
        w = short["waiters"]
        length = fmt_seconds(short["length_s"]).replace(".0 ", " ")
        parts.append(
            f"On shorter go-lives it trades requests for promptness: at {length} it made "
            f"{w['ours']['gets_mean']:.0f} GETs (30-second loop: "
            f"{w['fixed-30s']['gets_mean']:.0f}) and saw the end after "
            f"{w['ours']['delay_mean_s']:.1f} s (30-second loop: "
            f"{w['fixed-30s']['delay_mean_s']:.1f} s); the request targets it misses are "
            f"listed in the table.")
    runs = data.get("concurrency", {}).get("runs", [])
    duration = data.get("concurrency", {}).get("config", {}).get("duration", math.nan)
    plugin = [r for r in runs if r["flavour"] == "plugin" and r["ran"]]
    if plugin:
        n = max(r["n"] for r in plugin)
        free = next((r for r in plugin if r["n"] == n and not r["throttle_rps"]), None)
        limited = next((r for r in plugin if r["n"] == n and r["throttle_rps"]), None)
        text = f"Through the plugin, {n} offers going live at once"
        if free is not None:
            text += (f" took {fmt_seconds(free['wall_s'])} for {duration:g}-second go-lives "
                     f"({free['wall_s'] / duration:.2f}x one go-live) with a peak of "
                     f"{fmt_bytes(free['peak_rss_bytes'])} and {free['max_threads']} threads")
        if limited is not None:
            text += ("; with" if free is not None else " with")
            if limited.get("stopped_at_max_wall"):
                done = n - limited["unfinished"] - limited["failed"]
                text += (f" the portal throttling at {limited['throttle_rps']:g} requests/s, "
                         f"{done} of {n} had finished when the run was stopped after "
                         f"{fmt_seconds(limited['wall_s'])}, having met "
                         f"{limited['http_429']} 429 answers ({limited['failed']} go-lives "
                         f"failed)")
            else:
                text += (f" the portal throttling at {limited['throttle_rps']:g} requests/s "
                         f"{'the same ' if free is not None else ''}took "
                         f"{fmt_seconds(limited['wall_s'])} and met {limited['http_429']} 429 "
                         f"answers ({limited['failed']} go-lives failed)")
        parts.append(text + ".")
    skipped = [r for r in runs if r["flavour"] == "dynamic" and not r["ran"]
               and r.get("estimate_minutes_if_not_run")]
    if skipped:
        r = min(skipped, key=lambda r: r["n"])
        parts.append(
            f"The dynamic flavour runs at most 4 calls at a time inside Pulumi's host, so "
            f"{r['n']} such offers would take about {r['estimate_minutes_if_not_run']:.0f} min "
            f"there: beyond a handful of offers, use the plugin.")
    over = data.get("overhead")
    if over:
        lat = over["latency_s"]
        check = max(median(lat[f]["Check"]) for f in lat)
        diff = max(median(lat[f]["Diff"]) for f in lat)
        start = median(over["startup_s"]["plugin"]["first_get_plugin_info"])
        parts.append(
            f"Per resource, Check and Diff cost at most {check * 1000:.1f} and "
            f"{diff * 1000:.1f} ms (median), the plugin answers its first call "
            f"{start:.2f} s after launch, and the dynamic provider adds "
            f"{over['pickled_provider']['base64_bytes']} bytes to the stack's state.")
    return " ".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    chosen = [s for s in SCENARIOS if not args.only or s in args.only]
    conc_cfg = concurrency.QUICK if args.quick else concurrency.ConcurrencyConfig()
    runners: dict[str, Callable[[], tuple[Table, dict[str, Any]]]] = {
        "waiting": lambda: waiting.run(waiting.QUICK if args.quick else waiting.WaitingConfig()),
        "ingestion": lambda: waiting_ingestion.run(
            waiting_ingestion.QUICK if args.quick else waiting_ingestion.IngestionConfig()),
        "concurrency": lambda: concurrency.run(conc_cfg),
        "overhead": lambda: overhead.run(
            overhead.QUICK if args.quick else overhead.OverheadConfig()),
        "realcli": lambda: real_cli.run(real_cli.QUICK if args.quick else real_cli.RealCliConfig()),
        "requests": lambda: requests_scenario.run(
            requests_scenario.QUICK if args.quick else requests_scenario.RequestsConfig()),
    }
    command = "python -m bench " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    started = time.time()
    meta: dict[str, Any] = {
        "command": command.strip(),
        "mode": "quick" if args.quick else "full",
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "scenario_runtime_s": {},
    }
    tables: list[Table] = []
    data: dict[str, Any] = {}
    for name in chosen:
        log(f"scenario {name}: {DESCRIPTIONS[name]}")
        t0 = time.time()
        table, figures = runners[name]()
        meta["scenario_runtime_s"][name] = time.time() - t0
        figures["table"] = table.to_json()
        data[name] = figures
        tables.append(table)
        print(table.text(), end="\n\n", flush=True)
        log(f"scenario {name} took {time.time() - t0:.0f} s")
    meta["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    meta["runtime_s"] = time.time() - started
    print(f"Total runtime: {meta['runtime_s'] / 60:.1f} min "
          f"({', '.join(f'{k} {v:.0f} s' for k, v in meta['scenario_runtime_s'].items())})")
    if not args.no_write:
        stem = "quick" if args.quick else "latest"
        if args.only:
            stem += "-" + "-".join(chosen)
        args.results_dir.mkdir(parents=True, exist_ok=True)
        json_path = args.results_dir / f"{stem}.json"
        md_path = args.results_dir / f"{stem}.md"
        json_path.write_text(json.dumps(_jsonable({"meta": meta, "scenarios": data}), indent=1,
                                        allow_nan=False) + "\n", encoding="utf-8")
        md_path.write_text(_markdown(tables, meta, data), encoding="utf-8")
        shown = [p.relative_to(REPO) if p.is_relative_to(REPO) else p
                 for p in (json_path, md_path)]
        print(f"Wrote {shown[0]} and {shown[1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
