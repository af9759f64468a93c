"""Gateway test fixtures: a gateway on a free loopback port, its token, a raw client, the
``wildcam gateway`` command."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from wildcam.gateway import Gateway, GatewayConfig

TOKEN = "gateway-test-token-0123456789"
OPERATOR = "gateway-operator-token-9876543210"


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    return path


@pytest.fixture
def operator_token_file(tmp_path: Path) -> Path:
    path = tmp_path / "operator.token"
    path.write_text(OPERATOR + "\n")
    return path


@pytest.fixture
def gateway(tmp_path: Path, token_file: Path, operator_token_file: Path) -> Iterator[Gateway]:
    with Gateway(
        GatewayConfig(
            store=tmp_path / "store",
            token_file=token_file,
            port=0,
            max_body_mb=0.5,
            max_update_mb=1.0,
            operator_token_file=operator_token_file,
            auth_failure_delay_s=0.01,
            header_timeout_s=1.0,
            body_timeout_s=1.0,
            max_connections=32,
        )
    ) as gw:
        yield gw


@pytest.fixture
def operator(gateway: Gateway) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=gateway.url, headers={"Authorization": f"Bearer {OPERATOR}"}, timeout=10
    ) as c:
        yield c


@pytest.fixture
def client(gateway: Gateway) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=gateway.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    ) as c:
        yield c


@pytest.fixture
def gateway_cli() -> Iterator[Callable[..., str]]:
    """Starts ``wildcam gateway --port 0 --store STORE ARGS...``; the line it prints when it
    serves. Each is stopped with SIGINT at the end and must exit 0."""
    procs: list[subprocess.Popen[str]] = []

    def start(store: Path, *args: str) -> str:
        command = ["gateway", "--port", "0", "--store", str(store), *args]
        proc = subprocess.Popen(
            [sys.executable, "-m", "wildcam.cli", *command],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        line = proc.stdout.readline()  # type: ignore[union-attr]
        assert "serving http://127.0.0.1:" in line, proc.stderr.read()  # type: ignore[union-attr]
        return line

    yield start
    for proc in procs:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
