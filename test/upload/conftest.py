"""Upload test fixtures: a gateway on a free loopback port and its token file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from wildcam.gateway import Gateway, GatewayConfig


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text("test-token-0123456789abcdef\n")
    return path


@pytest.fixture
def operator_token_file(tmp_path: Path) -> Path:
    path = tmp_path / "operator.token"
    path.write_text("operator-token-0123456789abcdef\n")
    return path


@pytest.fixture
def gateway(tmp_path: Path, token_file: Path, operator_token_file: Path) -> Iterator[Gateway]:
    with Gateway(
        GatewayConfig(
            store=tmp_path / "gateway",
            token_file=token_file,
            port=0,
            max_body_mb=1.0,
            operator_token_file=operator_token_file,
            auth_failure_delay_s=0.01,
        )
    ) as gw:
        yield gw
