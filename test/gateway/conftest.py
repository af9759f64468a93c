"""Gateway test fixtures: a gateway on a free loopback port, its token, a raw client."""

from __future__ import annotations

from collections.abc import Iterator
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
