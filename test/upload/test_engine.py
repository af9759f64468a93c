"""The sender against a real loopback gateway: acknowledgements, lost answers, faults, 401,
413, policy holds. Fault windows are bounded; attempts are counted (no busy loop)."""

from __future__ import annotations

import dataclasses
import os
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from fault_proxy import FaultProxy  # test-local helpers
from upload_helpers import drain, engine, frame, item

from wildcam.errors import UpdateError
from wildcam.gateway import Gateway
from wildcam.upload.config import UploaderConfig, with_signed
from wildcam.upload.engine import SenderThread
from wildcam.upload.items import DeviceStatus, items_for_frame
from wildcam.upload.queue import DurableQueue, NewItem


def fill(queue: DurableQueue, frames: int, full: int = 0) -> list[str]:
    keys: list[str] = []
    for i in range(frames):
        keys += queue.put(items_for_frame(frame(i, full=full), full > 0)).stored
    return keys


def gateway_keys(gw: Gateway) -> Counter[str]:
    return Counter(i["key"] for i in gw.store.items(limit=100000))


def wait_for(predicate: Callable[[], bool], timeout_s: float) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_everything_is_sent_and_deleted_only_after_acknowledgement(
    tmp_path: Path, gateway: Gateway, token_file: Path
) -> None:
    queue = DurableQueue(tmp_path / "q", 10**8, 3600)
    keys = fill(queue, 30)
    eng = engine(queue, gateway.url, token_file, batch_max_items=16)
    drain(eng)
    assert gateway_keys(gateway) == Counter(keys)
    assert queue.stats().depth == 0 and queue.stats().counters["acked"] == 60
    assert eng.counters.items_sent == 60 and eng.counters.requests == 4
    assert eng.counters.joules > 0 and eng.counters.joules_per_mb == pytest.approx(1.0)
    stored = {i["key"]: i for i in gateway.store.items()}
    meta = next(i for k, i in stored.items() if k.endswith("-m"))
    assert meta["kind"] == "metadata" and meta["content_type"] == "application/json"


def test_lost_acknowledgement_is_resent_and_stored_once(
    tmp_path: Path, gateway: Gateway, token_file: Path
) -> None:
    proxy = FaultProxy(gateway.port)
    try:
        queue = DurableQueue(tmp_path / "q", 10**8, 3600)
        keys = fill(queue, 10)
        eng = engine(queue, proxy.url, token_file)
        proxy.set_mode("cut")  # the gateway stores the batch, the answer never arrives
        assert drain(eng) == 1 and queue.stats().depth == 20
        assert gateway_keys(gateway) == Counter(keys)  # stored, but not acknowledged
        proxy.set_mode("pass")
        time.sleep(eng.step())  # the backoff
        drain(eng)
        assert queue.stats().depth == 0
        assert gateway_keys(gateway) == Counter(keys)  # exactly once
        assert gateway.store.counters()["duplicates"] == 20
    finally:
        proxy.close()


@pytest.mark.parametrize("mode", ["down", "503", "slow", "reset"])
def test_faults_back_off_without_busy_loop_and_lose_nothing(
    tmp_path: Path, gateway: Gateway, token_file: Path, mode: str
) -> None:
    proxy = FaultProxy(gateway.port, delay_s=0.6)
    try:
        queue = DurableQueue(tmp_path / "q", 10**8, 3600)
        keys = fill(queue, 20)
        eng = engine(
            queue,
            proxy.url,
            token_file,
            backoff_base_s=0.05,
            backoff_max_s=0.4,
            request_timeout_s=0.25,
            batch_max_items=8,
        )
        proxy.set_mode(mode)
        for failures in range(1, 6):  # five attempts into the fault, each on the engine's time
            requests, started = eng.counters.requests, time.monotonic()
            delay = eng.step()
            assert eng.counters.requests == requests + 1  # one attempt per step
            assert eng.counters.retries == failures and eng.counters.last_error
            # the backoff doubles from 0.05 s up to 0.4 s, with jitter in [d/2, d]
            ceiling = min(0.4, 0.05 * 2 ** (failures - 1))
            assert ceiling / 2 <= delay <= ceiling, (failures, delay)
            # no busy loop: before the delay (counted from the attempt's start) has passed,
            # a step sends nothing
            if time.monotonic() - started < delay:
                assert eng.step() > 0.0 and eng.counters.requests == requests + 1
            time.sleep(max(0.0, started + delay - time.monotonic()))
        proxy.set_mode("pass")
        sender = SenderThread(eng).start()
        assert wait_for(lambda: queue.stats().depth == 0, 10.0), eng.counters
        sender.stop()
        assert gateway_keys(gateway) == Counter(keys)
        assert queue.check() == []
    finally:
        proxy.close()


def test_wrong_token_is_401_backs_off_reports_and_recovers(
    tmp_path: Path, gateway: Gateway, token_file: Path
) -> None:
    wrong = tmp_path / "wrong-token"
    wrong.write_text("not-the-token-at-all-000\n")
    queue = DurableQueue(tmp_path / "q", 10**8, 3600)
    keys = fill(queue, 5)
    eng = engine(queue, gateway.url, wrong, backoff_base_s=0.05, backoff_max_s=0.4)
    sender = SenderThread(eng).start()
    # refused again after a backoff (the backoff's growth is Backoff's own test), nothing sent
    assert wait_for(
        lambda: gateway.refusals["unauthorized"] >= 2 and "backing off" in eng.counters.held, 10.0
    ), eng.counters
    assert "401" in eng.counters.last_error and "backing off" in eng.counters.held
    assert "not-the-token" not in eng.counters.last_error + eng.counters.held
    assert queue.stats().depth == 10 and gateway.refusals["unauthorized"] >= 2
    wrong.write_text(token_file.read_text())  # the operator fixes the file: re-read
    assert wait_for(lambda: queue.stats().depth == 0, 10.0), eng.counters
    sender.stop()
    assert gateway_keys(gateway) == Counter(keys)


def test_oversize_batches_are_split_and_an_oversize_item_is_set_aside(
    tmp_path: Path, gateway: Gateway, token_file: Path
) -> None:
    queue = DurableQueue(tmp_path / "q", 10**9, 3600)
    queue.put([item(f"m{i}", "metadata", 10) for i in range(4)])
    queue.put([item(f"t{i}", "thumbnail", 1) for i in range(12)])
    big = os.urandom(1_200_000)  # the gateway's limit is 1 MB; incompressible
    queue.put(
        [NewItem(key=f"p{i}", kind="thumbnail", payload=os.urandom(200_000)) for i in range(8)]
        + [NewItem(key="huge", kind="thumbnail", payload=big)]
    )
    eng = engine(queue, gateway.url, token_file, batch_max_kb=100_000, batch_max_items=64)
    for _ in range(40):
        if queue.waiting() == 0:
            break
        eng.step()
    assert queue.waiting() == 0 and eng.counters.retries == 0
    stats = queue.stats()
    assert stats.dead_letters == 1 and stats.counters["dead_lettered"] == 1
    assert "413" in eng.counters.last_error
    assert len(gateway_keys(gateway)) == 24 and "huge" not in gateway_keys(gateway)
    assert gateway.refusals["too_large"] >= 2


def test_policy_holds_the_radio(tmp_path: Path, gateway: Gateway, token_file: Path) -> None:
    queue = DurableQueue(tmp_path / "q", 10**8, 3600)
    fill(queue, 3)
    eng = engine(queue, gateway.url, token_file, enabled=False)
    eng.step()
    assert eng.counters.held == "disabled" and eng.counters.requests == 0
    eng.config = engine(queue, gateway.url, token_file, batch_min_items=10).config
    eng.step()
    assert eng.counters.held.startswith("batching") and eng.counters.requests == 0
    eng.config = engine(
        queue, gateway.url, token_file, batch_max_items=2, daily_energy_budget_j=1e-9
    ).config
    drain(eng)
    assert eng.counters.requests == 1 and "budget" in eng.counters.held
    eng.config = engine(queue, gateway.url, token_file, link_profile="10:0.1").config
    eng.link = engine(queue, gateway.url, token_file, link_profile="10:0.1").link
    eng.budget.spent_j = 0.0
    eng.step()
    assert "link quality" in eng.counters.held and eng.counters.requests == 1
    assert queue.stats().depth == 4


def test_a_new_gateway_gets_a_new_transport_other_changes_keep_it(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("engine-test-token-0123456789\n")
    queue = DurableQueue(tmp_path / "q", 10_000_000, 86400.0)
    try:
        eng = engine(queue, "http://127.0.0.1:9", token)
        first = eng.transport
        assert eng.use(dataclasses.replace(eng.config, batch_max_items=3)) is None
        assert eng.transport is first and eng.config.batch_max_items == 3
        moved = dataclasses.replace(eng.config, gateway_url="http://127.0.0.1:10")
        assert eng.use(moved) is first and eng.transport is not first
        first.close()
        queue.put(items_for_frame(frame(1), send_full_frames=False))
        values = eng.report(queue.stats(), "")
        assert values["queue_depth"] == "2" and values["items_sent"] == "0"
        assert {"queue_depth_by_priority", "energy_today_j", "reserve_held"} <= set(values)
    finally:
        eng.transport.close()
        queue.close()


def test_signed_values_go_over_the_config_and_a_bad_one_is_refused() -> None:
    base = UploaderConfig()
    signed = with_signed(base, {"gateway_url": "https://gw.example:8470"})
    assert signed.gateway_url == "https://gw.example:8470" and signed.quota_mb == base.quota_mb
    with pytest.raises(UpdateError, match="uploader refused"):
        with_signed(base, {"quota_mb": -1.0})


def test_device_status_keeps_power_and_projected_life() -> None:
    status = DeviceStatus()
    status.power(float("inf"), "normal", "warm", True)
    status.diagnostics([("projected_battery_h", "12.5"), ("projected_battery_h", "n/a")])
    assert status.values == {
        "battery": None,
        "mode": "normal",
        "state": "warm",
        "charging": True,
        "projected_battery_h": 12.5,
    }
