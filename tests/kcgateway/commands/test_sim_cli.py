"""``kcgateway sim --state-file``: a restarted simulator knows what the last one held."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from kucoin_sim.persist import MAGIC

EXE = Path(sys.executable).with_name("kcgateway")  # our own console script


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _start(state: Path) -> tuple[subprocess.Popen[str], str]:
    spot, futures = _free_ports(2)
    cmd = [str(EXE), "sim", "--spot-port", str(spot),
           "--futures-port", str(futures), "--state-file", str(state)]  # fmt: skip
    proc = subprocess.Popen(  # noqa: S603 - our own console script
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    url = f"http://127.0.0.1:{spot}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/api/v1/timestamp", timeout=2):  # noqa: S310
                return proc, url
        except OSError:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("the simulator did not start in 60 s")


def _create(url: str, api_key: str) -> tuple[int, dict[str, object]]:
    body = json.dumps({"apiKey": api_key, "balances": {"USDT": "5"}}).encode()
    request = urllib.request.Request(  # noqa: S310 - loopback simulator
        f"{url}/_sim/accounts", data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    return out


def test_a_stopped_simulator_restarts_with_its_accounts(tmp_path: Path) -> None:
    state = tmp_path / "sim.state"
    proc, url = _start(state)
    try:
        status, _ = _create(url, "kept-key-1")
        assert status == 200
    finally:
        _stop(proc)
    assert state.read_bytes().startswith(MAGIC)
    proc, url = _start(state)
    try:
        status, answer = _create(url, "kept-key-1")  # the restored simulator has this key
        assert status == 400 and "already exists" in json.dumps(answer), answer
    finally:
        out = _stop(proc)
    assert "state restored from" in out


def test_a_bad_state_file_is_refused_with_what_to_do(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from kcgateway.cli import app as cli

    state = tmp_path / "sim.state"
    state.write_bytes(b"something else")
    state.chmod(0o600)
    result = CliRunner().invoke(cli, ["sim", "--spot-port", "0", "--state-file", str(state)])
    assert result.exit_code == 2
    assert "not a simulator state file: move it away" in result.output
    assert "Traceback" not in result.output
