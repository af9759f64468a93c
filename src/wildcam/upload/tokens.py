"""Bearer token files, read strictly: one token on one line, nothing else.

A token file holds exactly one token of 16-512 characters of ``[A-Za-z0-9._~+/=-]`` and at most
one line ending. Anything else (a second line, spaces, other characters) is a
:class:`~wildcam.errors.ConfigError` that names the file and what is wrong with it, never its
content: a token must not reach a log, a status message or ``/diagnostics`` through an error.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from wildcam.errors import ConfigError

__all__ = ["read_token", "redact", "write_new_token"]

_TOKEN = re.compile(r"^[A-Za-z0-9._~+/=-]{16,512}$")


def _parse_token(text: str, where: str) -> str:
    """The one token in ``text`` (the content of ``where``)."""
    body = text[:-2] if text.endswith("\r\n") else text[:-1] if text.endswith("\n") else text
    if "\n" in body or "\r" in body:
        raise ConfigError(
            f"token file {where} must hold one token on one line "
            f"(it has {len(body.splitlines())} lines)"
        )
    if not _TOKEN.match(body):
        raise ConfigError(
            f"token file {where} does not hold a token: expected 16-512 "
            f"characters of A-Z a-z 0-9 . _ ~ + / = - ({len(body)} characters "
            f"found)"
        )
    return body


def read_token(path: Path) -> str:
    """The token in the file ``path``; :class:`ConfigError` (without the content) if it is not
    exactly one token."""
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise ConfigError(f"cannot read token file {path}: {err.strerror}") from err
    if len(raw) > 1024:
        raise ConfigError(f"token file {path} is {len(raw)} bytes: not a token file")
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise ConfigError(f"token file {path} is not ASCII text") from None
    return _parse_token(text, str(path))


def write_new_token(path: Path) -> None:
    """Write a new random token to ``path`` (created, mode 0600; its directory 0700)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_urlsafe(32) + "\n")


def redact(text: str, token: str) -> str:
    """``text`` with every occurrence of ``token`` replaced (defence in depth for messages
    built from third-party exceptions)."""
    return text.replace(token, "<token>") if token else text
