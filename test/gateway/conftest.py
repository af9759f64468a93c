"""Gateway test fixtures: a gateway on a free loopback port, its token, a raw client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from wildcam.gateway import Gateway, GatewayConfig

TOKEN = "gateway-test-token-0123456789"


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    return path


@pytest.fixture
def gateway(tmp_path: Path, token_file: Path) -> Iterator[Gateway]:
    with Gateway(GatewayConfig(store=tmp_path / "store", token_file=token_file, port=0,
                               max_body_mb=0.5, max_update_mb=1.0)) as gw:
        yield gw


@pytest.fixture
def client(gateway: Gateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, headers={"Authorization": f"Bearer {TOKEN}"},
                      timeout=10) as c:
        yield c
