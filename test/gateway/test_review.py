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


def test_login_takes_the_operator_token_and_the_shared_one_only_while_the_api_accepts_it(
    tmp_path: Path,
) -> None:
    """With ``device_tokens_only`` the shared token opens the page until a device is registered
    (its open sessions end then too); the operator token always does, a device token never."""
    token, operator = tmp_path / "token", tmp_path / "operator.token"
    token.write_text(TOKEN + "\n")
    operator.write_text("review-operator-token-9876543210\n")
    fill_store(tmp_path / "store")
    config = GatewayConfig(
        store=tmp_path / "store",
        token_file=token,
        operator_token_file=operator,
        device_tokens_only=True,
        port=0,
    )

    def log_in(client: httpx.Client, given: str) -> bool:
        answer = client.post("/review/login", data={"token": given})
        return str(answer.headers["location"]) == "/review/"

    with (
        Gateway(config) as gw,
        httpx.Client(base_url=gw.url, timeout=10) as shared,
        httpx.Client(base_url=gw.url, timeout=10) as other,
    ):
        assert log_in(shared, TOKEN)  # no device yet: a single trap's set-up
        assert shared.get("/review/").status_code == 200
        device_token = gw.devices.add("trap-a")
        assert shared.get("/review/").status_code == 303  # its session ended with it
        assert not log_in(other, TOKEN)
        assert not log_in(other, device_token)
        assert other.get("/review/").status_code == 303
        assert log_in(other, "review-operator-token-9876543210")
        assert other.get("/review/").status_code == 200


def test_a_device_token_never_opens_the_review_page(filled: Gateway) -> None:
    device_token = filled.devices.add("trap-a")
    with httpx.Client(base_url=filled.url, timeout=10) as client:
        answer = client.post("/review/login", data={"token": device_token})
        assert answer.headers["location"] == "/review/login?failed=1"
        assert client.get("/review/").status_code == 303
        api = client.get("/v1/stats", headers={"Authorization": f"Bearer {device_token}"})
        assert api.status_code == 200  # the same token is good on the API
