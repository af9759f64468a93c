"""Token files are read strictly, and no error path carries the token."""

from __future__ import annotations

from pathlib import Path

import pytest
from upload_helpers import engine, item  # test-local helpers

from wildcam.errors import ConfigError
from wildcam.gateway import Gateway
from wildcam.gateway.server import load_token
from wildcam.upload.queue import DurableQueue
from wildcam.upload.tokens import read_token

SECRET = "s3cret-token-value-0123456789"


@pytest.mark.parametrize(
    "content",
    [
        f"{SECRET}\nsecond line\n",
        f"{SECRET}\n\n",
        f" {SECRET}",
        f"{SECRET} trailing",
        "short",
        "",
        f"{SECRET}\x00",
    ],
)
def test_anything_but_one_token_is_a_clear_error_without_the_content(
    tmp_path: Path, content: str
) -> None:
    path = tmp_path / "token"
    path.write_text(content)
    with pytest.raises(ConfigError) as err:
        read_token(path)
    assert SECRET not in str(err.value) and "second" not in str(err.value)
    with pytest.raises(ConfigError) as err:
        load_token(path)
    assert SECRET not in str(err.value)


def test_one_token_with_or_without_a_line_ending_is_read(tmp_path: Path) -> None:
    for content in (SECRET, SECRET + "\n", SECRET + "\r\n"):
        (tmp_path / "t").write_text(content)
        assert read_token(tmp_path / "t") == SECRET


def test_a_token_file_with_a_second_line_never_reaches_the_status(
    tmp_path: Path, gateway: Gateway, token_file: Path
) -> None:
    bad = tmp_path / "bad-token"
    bad.write_text(token_file.read_text().strip() + "\nleaked-second-line\n")
    queue = DurableQueue(tmp_path / "q", 10**6, 3600)
    queue.put([item("k")])
    eng = engine(queue, gateway.url, bad)
    eng.step()
    told = eng.counters.last_error + eng.counters.held
    assert "one token on one line" in told
    assert token_file.read_text().strip() not in told and "leaked" not in told
    assert queue.waiting() == 1
