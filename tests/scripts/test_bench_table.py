"""scripts/bench_table.py: JSON result lines -> records -> the README's markdown table."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from scripts.bench_table import BEGIN, END, Record

from scripts import bench_table

SIGNING = {
    "bench": "signing_fully_signed_order",
    "unit": "us/request",
    "ours": 2.573,
    "floor": 2.889,
    "ccxt": 21.147,
    "ratio_vs_floor": 1.123,
    "ratio_vs_ccxt": 8.22,
    "goal": "ours <= 1.1 x floor",
    "met": True,
}
REST = {
    "bench": "rest_signed_limit_orders",
    "unit": "orders/s (sequential, 20 in flight)",
    "ours": [1582, 2182],
    "bare_aiohttp": [1792, 2454],
    "ratio_vs_bare_aiohttp": 0.71,
    "ratio_vs_bare_rounds": [0.7, 0.72],
    "added_p99_ms": 1.5,
    "orders_per_s_20": 900,
    "mac_ours": 1.0,
    "goal": ">= 0.8 | bare",
    "met": False,
}


def test_the_last_result_line_wins_and_other_lines_are_ignored() -> None:
    output = "\n".join(
        [
            "kcgateway 2.5 us",
            '{"not": "a result"}',
            json.dumps({**SIGNING, "ours": 99}),
            "{broken json",
            json.dumps(SIGNING),
            "trailing text",
        ]
    )
    assert bench_table.last_json_line(output) == SIGNING
    assert bench_table.last_json_line("no json here\n{}") is None


def test_a_record_is_met_only_when_the_script_succeeded_and_said_so() -> None:
    ok = bench_table.record_from_output("bench/bench_signing.py", 0, json.dumps(SIGNING))
    unmet = bench_table.record_from_output("bench/bench_rest.py", 0, json.dumps(REST))
    crashed = bench_table.record_from_output("bench/bench_x.py", 1, json.dumps(SIGNING))
    silent = bench_table.record_from_output("bench/bench_y.py", 0, "Traceback ...")
    odd = bench_table.record_from_output("bench/bench_z.py", 0, json.dumps({**SIGNING, "met": 1}))
    assert ok.met and ok.error is None
    assert not unmet.met and unmet.error is None
    assert not crashed.met and crashed.error == "exit status 1"
    assert not silent.met and silent.error == "no JSON result line"
    assert not odd.met and odd.error == "met is not true or false"


def test_records_round_trip_through_json_lines() -> None:
    rec = Record("bench/bench_rest.py", REST, None, load_before=3.5, load_after=4.0, seconds=12.0)
    assert Record.from_json(rec.to_json()) == rec


def test_the_table_has_one_row_per_script_with_peers_ratios_goal_and_verdict() -> None:
    records = [
        Record("bench/bench_signing.py", SIGNING, load_before=1.25),
        Record("bench/bench_rest.py", REST, load_before=4.0),
        Record("bench/bench_y.py", None, "no JSON result line"),
    ]
    table = bench_table.render_table(records).splitlines()
    assert table[0].startswith(
        "| Benchmark | Unit | Ours | Peers (ratio) | Other figures | Goal | Met |"
    )
    assert len(table) == 2 + 3
    signing, rest, broken = table[2:]
    assert "`bench_signing.py` (signing_fully_signed_order)" in signing
    assert "| 2.57 |" in signing
    assert "floor 2.89 (1.12); ccxt 21.1 (8.22)" in signing
    assert signing.endswith("| yes | 1.25 |")
    assert "| 1,582 / 2,182 |" in rest
    assert "bare_aiohttp 1,792 / 2,454 (0.71) |" in rest  # a list of ratios is no peer
    assert "| added_p99_ms 1.50; orders_per_s_20 900 |" in rest  # times and rates; not mac_ours
    assert "| - | ours <= 1.1 x floor |" in signing
    assert ">= 0.8 \\| bare" in rest  # a pipe in a goal cannot break the table
    assert rest.endswith("| no | 4.00 |")
    assert "no: no JSON result line" in broken


def test_the_readme_table_is_replaced_between_the_markers_only() -> None:
    readme = f"# Title\n\nintro\n\n{BEGIN}\n| old | table |\n{END}\n\nafter\n"
    new = bench_table.replace_table(readme, "| new |\n")
    assert new == f"# Title\n\nintro\n\n{BEGIN}\n| new |\n{END}\n\nafter\n"
    with pytest.raises(ValueError, match="markers"):
        bench_table.replace_table("# no markers\n", "| new |\n")


def test_run_keeps_going_after_a_failure_and_exits_1(tmp_path: Path) -> None:
    good = tmp_path / "bench_good.py"
    good.write_text(f"print({json.dumps(json.dumps(SIGNING))})\n")
    bad = tmp_path / "bench_bad.py"
    bad.write_text("raise SystemExit(3)\n")
    unmet = tmp_path / "bench_unmet.py"
    unmet.write_text(f"print({json.dumps(json.dumps(REST))})\n")
    out = tmp_path / "results.jsonl"
    code = bench_table.main(["run", "--out", str(out), str(bad), str(good), str(unmet)])
    assert code == 1
    records = bench_table.read_records(out)
    assert [Path(r.script).name for r in records] == [
        "bench_bad.py",
        "bench_good.py",
        "bench_unmet.py",
    ]
    assert [r.met for r in records] == [False, True, False]
    assert records[0].error == "exit status 3"
    only_good = tmp_path / "good.jsonl"
    assert bench_table.main(["run", "--out", str(only_good), str(good)]) == 0


def test_readme_command_writes_the_table_of_one_run(tmp_path: Path) -> None:
    results = tmp_path / "results.jsonl"
    results.write_text(Record("bench/bench_signing.py", SIGNING, load_before=1.0).to_json() + "\n")
    readme = tmp_path / "README.md"
    readme.write_text(f"x\n{BEGIN}\n{END}\ny\n")
    assert bench_table.main(["readme", "--results", str(results), "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert "`bench_signing.py` (signing_fully_signed_order)" in text
    assert text.startswith("x\n" + BEGIN + "\n| Benchmark")
    assert text.endswith(END + "\ny\n")
    assert sys.executable  # the runner uses this interpreter
