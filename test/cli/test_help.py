"""Every option of every verb has plain-text help."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator

from wildcam.cli import build_parser

MARKUP = re.compile(r"``|:func:|:class:|:mod:|:data:|::$")


def _parsers(
    parser: argparse.ArgumentParser, path: str = "wildcam"
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{path} {name}")


def test_every_option_and_argument_has_help() -> None:
    missing = [
        f"{path} {'/'.join(a.option_strings) or a.dest}"
        for path, parser in _parsers(build_parser())
        for a in parser._actions
        if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))
        and not (a.help or "").strip()
    ]
    assert missing == []


def test_descriptions_and_help_are_plain_text() -> None:
    texts = [
        (path, text)
        for path, parser in _parsers(build_parser())
        for text in [parser.description or "", *(a.help or "" for a in parser._actions)]
    ]
    assert [(p, t) for p, t in texts if MARKUP.search(t)] == []
    assert len(texts) > 100
