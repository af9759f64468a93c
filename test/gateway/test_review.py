"""The review page: nothing without logging in, then devices, events with boxes, filters and
verdicts that land in the verdict store."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from wildcam.gateway import Gateway, GatewayConfig
from wildcam.gateway.verdicts import VerdictStore

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ecology"))
from ecology_helpers import fill_store  # type: ignore[import-not-found]

TOKEN = "review-test-token-0123456789"


@pytest.fixture
def filled(tmp_path: Path) -> Iterator[Gateway]:
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    fill_store(tmp_path / "store")
    with Gateway(GatewayConfig(store=tmp_path / "store", token_file=token, port=0)) as gw:
        yield gw


@contextmanager
def _login(gw: Gateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gw.url, timeout=10) as client:
        answer = client.post("/review/login", data={"token": TOKEN, "name": "Ann"})
        assert answer.status_code == 303 and answer.headers["location"] == "/review/"
        cookie = answer.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/review" in cookie
        yield client


def test_nothing_without_logging_in(filled: Gateway) -> None:
    with httpx.Client(base_url=filled.url, timeout=10) as anon:
        page = anon.get("/review/")
        assert page.status_code == 303 and page.headers["location"] == "/review/login"
        assert anon.get("/review/login").status_code == 200
        sha = next(i["sha256"] for i in filled.store.items() if i["kind"] == "thumbnail")
        assert anon.get(f"/review/media/{sha}").status_code == 401
        assert (
            anon.post(
                "/review/verdict", data={"device": "trap-a", "event": "e1", "verdict": "wrong"}
            ).status_code
            == 401
        )
        bearer = {"Authorization": f"Bearer {TOKEN}"}  # the API token is no session
        assert anon.get("/review/", headers=bearer).status_code == 303
        wrong = anon.post("/review/login", data={"token": "x" * 30})
        assert wrong.headers["location"] == "/review/login?failed=1"
        anon.cookies.set("wildcam_review", "forged")
        assert anon.get("/review/").status_code == 303
        assert anon.get("/v1/items").status_code == 401  # the API still wants its token


def test_page_shows_devices_events_and_filters(filled: Gateway) -> None:
    with _login(filled) as client:
        page = client.get("/review/").text
        assert page.count("class='event'") == 3 and "3 of 3 events" in page
        assert "trap-a" in page and "trap-b" in page
        devices = page[page.index("id='devices'") : page.index("</table>")]
        assert "70%" in devices and "normal / warm" in devices and "5.0 days" in devices
        assert "class='box'" in page and "left:37.50%;top:37.50%;width:25.00%;" in page
        image = re.search(r"src='(/review/media/[0-9a-f]{64})'", page)
        assert image is not None
        jpeg = client.get(image.group(1))
        assert jpeg.status_code == 200 and jpeg.headers["content-type"] == "image/jpeg"
        assert "full frame</a>" in page
        only_b = client.get("/review/", params={"device": "trap-b"}).text
        assert "1 of 3 events" in only_b and "data-device='trap-b'" in only_b
        strong = client.get("/review/", params={"min_score": "0.85"}).text
        assert "2 of 3 events" in strong
        assert "0 of 3" in client.get("/review/", params={"date": "2026-06-22"}).text
        assert client.get("/review/", params={"min_score": "lots"}).status_code == 400


def test_verdicts_are_stored(filled: Gateway, tmp_path: Path) -> None:
    with _login(filled) as client:
        page = client.get("/review/").text
        csrf = re.search(r"name='csrf' value='([0-9a-f]+)'", page).group(1)
        form = {"device": "trap-a", "event": "e1", "csrf": csrf, "back": "/review/?device="}
        assert (
            client.post(
                "/review/verdict", data={**form, "verdict": "wrong", "csrf": "0" * 64}
            ).status_code
            == 403
        )
        answer = client.post("/review/verdict", data={**form, "verdict": "wrong"})
        assert answer.status_code == 303 and answer.headers["location"] == "/review/?device="
        assert (
            client.post(
                "/review/verdict", data={**form, "verdict": "species", "species": ""}
            ).status_code
            == 400
        )
        client.post(
            "/review/verdict",
            data={**form, "event": "e2", "verdict": "species", "species": "Vulpes vulpes"},
        )
        assert "verdict: wrong" in client.get("/review/").text
        client.post("/review/logout")
        assert client.get("/review/").status_code == 303
    verdicts = VerdictStore(tmp_path / "store")
    stored = verdicts.all()
    verdicts.close()
    assert stored[("trap-a", "e1")].verdict == "wrong"
    assert stored[("trap-a", "e2")].species == "Vulpes vulpes"
    assert stored[("trap-a", "e1")].reviewer == "Ann"
