"""The sender: takes batches off the durable queue and posts them when the policy allows.

:class:`UploadEngine.step` does at most one request and says how long to wait before the next
step; :class:`SenderThread` runs it in a background thread (the node's executor stays free) and
wakes early when items arrive. Items leave the queue only when the gateway has acknowledged
them. A failed request (network, 5xx, 401) backs off exponentially with jitter. A 413 or a 400
(the gateway cannot read the batch) halves the batch until the one item at fault is found; that
item, and any item the gateway refuses on its own (invalid, too large, key conflict), moves to
the queue's dead-letter table with the reason, counted, and never blocks the items behind it.

Acknowledged keys are deleted before anything else is sent. If even that fails (a full disk
beyond the queue's reserve), the keys are kept in memory and the deletion is retried with
backoff: nothing is resent while the disk is full.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from wildcam.errors import StorageError, TransportError
from wildcam.upload.config import UploaderConfig
from wildcam.upload.link import GatewayProbe, LinkQuality, SimulatedLink
from wildcam.upload.policy import EnergyBudget, PowerFacts, decide
from wildcam.upload.queue import DurableQueue, QueueStats
from wildcam.upload.transport import Backoff, HttpStatusError, HttpTransport

__all__ = ["EngineCounters", "SenderThread", "UploadEngine", "make_link", "make_transport"]

log = logging.getLogger("wildcam.upload")
EXPIRE_PERIOD_S = 10.0
LINK_RECHECK_S = 30.0  # a probe is a request too: re-measure the link at most this often


@dataclass
class EngineCounters:
    """What the sender did so far."""

    requests: int = 0
    items_sent: int = 0
    bytes_sent: int = 0
    retries: int = 0
    joules: float = 0.0
    link_quality: float = float("nan")
    link_up: bool = False
    held: str = "starting"
    last_error: str = ""
    dead_lettered: int = 0
    last_dead_letter: str = ""

    @property
    def joules_per_mb(self) -> float:
        """Radio energy per megabyte sent so far (0 before anything was sent)."""
        return self.joules / (self.bytes_sent / 1e6) if self.bytes_sent else 0.0


TRANSPORT_PARAMS = (
    "gateway_url",
    "token_file",
    "tls_verify",
    "ca_file",
    "request_timeout_s",
    "compression",
    "link_backend",
    "link_profile",
)  # a change of any of these needs a new transport and link backend


def make_transport(config: UploaderConfig) -> HttpTransport:
    """The gateway transport the config names."""
    return HttpTransport(
        config.gateway_url,
        config.token_file,
        tls_verify=config.tls_verify,
        ca_file=config.ca_file,
        timeout_s=config.request_timeout_s,
        compression=config.compression,
    )


def make_link(config: UploaderConfig, transport: HttpTransport) -> LinkQuality:
    """The link-quality backend the config names."""
    if config.link_backend == "simulated":
        return SimulatedLink(config.link_profile)
    return GatewayProbe(transport, config.request_timeout_s)


class UploadEngine:
    """One queue, one transport, one link backend, the live config and the power facts.

    ``energy(nbytes)`` charges a transfer and returns its joules; ``policy_clock`` gives the
    time (Unix seconds; the node's clock under simulation) the windows and budget use.
    """

    def __init__(
        self,
        queue: DurableQueue,
        transport: HttpTransport,
        link: LinkQuality,
        config: UploaderConfig,
        energy: Callable[[int], float],
        *,
        policy_clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.queue = queue
        self.transport = transport
        self._link = link
        self.energy = energy
        self.power = PowerFacts()
        self.counters = EngineCounters()
        self.budget = EnergyBudget()
        self._policy_clock = policy_clock
        self._backoff = Backoff(config.backoff_base_s, config.backoff_max_s, rng)
        self._retry_at = 0.0
        self._expire_at = 0.0
        self._link_checked_at = -LINK_RECHECK_S
        self._batch_cap = config.batch_max_items
        self._unrecorded_acks: tuple[str, ...] = ()
        self.config = config

    @property
    def link(self) -> LinkQuality:
        """The link-quality backend (a new one is measured at the next step)."""
        return self._link

    @link.setter
    def link(self, link: LinkQuality) -> None:
        self._link = link
        self._link_checked_at = -LINK_RECHECK_S

    @property
    def config(self) -> UploaderConfig:
        """The live configuration."""
        return self._config

    @config.setter
    def config(self, config: UploaderConfig) -> None:
        self._config = config
        self._backoff.base_s, self._backoff.max_s = config.backoff_base_s, config.backoff_max_s
        self._batch_cap = min(self._batch_cap, config.batch_max_items)
        self.queue.quota_bytes = int(config.quota_mb * 1024 * 1024)
        self.queue.ttl_s = config.ttl_s

    def use(self, config: UploaderConfig) -> HttpTransport | None:
        """Make ``config`` the live configuration; a new gateway or link backend gets a new
        transport and link. Returns the transport it replaced (the caller closes it), if any."""
        previous = None
        if any(getattr(self._config, k) != getattr(config, k) for k in TRANSPORT_PARAMS):
            transport = make_transport(config)
            self.link = make_link(config, transport)
            previous, self.transport = self.transport, transport
        self.config = config
        return previous

    def report(self, stats: QueueStats, last_dead_letter: str) -> dict[str, str]:
        """The diagnostics values: queue ``stats``, what was sent, link and energy."""
        c = self.counters
        return {
            **{f"queue_{k}": str(v) for k, v in stats.counters.items()},
            "queue_depth": str(stats.depth),
            "queue_bytes": str(stats.bytes),
            "queue_depth_by_priority": ",".join(map(str, stats.depth_by_priority)),
            "items_sent": str(c.items_sent),
            "bytes_sent": str(c.bytes_sent),
            "retries": str(c.retries),
            "requests": str(c.requests),
            "joules_per_mb": f"{c.joules_per_mb:.3f}",
            "held": c.held,
            "link_quality": f"{c.link_quality:.2f}",
            "energy_today_j": f"{self.budget.spent_j:.2f}",
            "last_upload_error": c.last_error,
            "dead_letters": str(stats.dead_letters),
            "last_dead_letter": last_dead_letter,
            "reserve_held": str(stats.reserve_held),
        }

    def _hold(self, reason: str) -> float:
        self.counters.held = reason
        return self._config.idle_period_s

    def _charge(self, unix: float, nbytes: int) -> None:
        joules = self.energy(nbytes)
        self.budget.add(unix, joules)
        self.counters.joules += joules

    def _failed(self, now: float, err: Exception) -> float:
        self._link_checked_at = -LINK_RECHECK_S  # measure the link again before the next try
        self.counters.retries += 1
        self.counters.last_error = str(err)
        self.counters.link_up = False
        delay = self._backoff.failure()
        self._retry_at = now + delay
        self.counters.held = f"backing off {delay:.1f} s after: {err}"
        log.warning("upload failed (%s); next try in %.1f s", err, delay)
        return delay

    def _dead_letter(self, key: str, reason: str) -> None:
        if self.queue.dead_letter(key, reason):
            self.counters.dead_lettered += 1
            self.counters.last_dead_letter = f"{key}: {reason}"[:300]
            log.warning("item %s dead-lettered: %s", key, reason[:300])

    def _record_acks(self, now: float, keys: tuple[str, ...]) -> float | None:
        """Delete acknowledged items; on a storage failure keep the keys and back off."""
        try:
            self.queue.ack(keys)
        except StorageError as err:
            self._unrecorded_acks = keys
            self.counters.last_error = str(err)
            delay = self._backoff.failure()
            self._retry_at = now + delay
            self.counters.held = f"cannot record acknowledgements, retry in {delay:.1f} s: {err}"
            log.error("%s", self.counters.held)
            return delay
        self._unrecorded_acks = ()
        return None

    def _split(self, batch_len: int, key: str, reason: str) -> float:
        """A batch refused as a whole: halve it, or dead-letter the single item."""
        if batch_len > 1:
            self._batch_cap = max(1, batch_len // 2)
        else:
            self._dead_letter(key, reason)
        return 0.0

    def step(self) -> float:
        """Try to send one batch; the seconds to wait before the next step (0: go on)."""
        now = time.monotonic()
        cfg = self._config
        if now < self._retry_at:
            return self._retry_at - now
        if self._unrecorded_acks:
            delay = self._record_acks(now, self._unrecorded_acks)
            if delay is not None:
                return delay
        if now >= self._expire_at:
            self._expire_at = now + EXPIRE_PERIOD_S
            self.queue.expire()
        unix = self._policy_clock()
        decision = decide(cfg, unix, self.power, self.budget.spent(unix))
        if not decision.allowed:
            return self._hold(decision.reason)
        waiting = self.queue.waiting(cfg.max_priority)
        if waiting == 0:
            return self._hold("queue empty")
        if waiting < cfg.batch_min_items:
            oldest = self.queue.oldest_waiting(cfg.max_priority)
            if oldest is not None and time.time() - oldest < cfg.batch_max_wait_s:
                return self._hold(f"batching ({waiting}/{cfg.batch_min_items} items)")
        if now - self._link_checked_at >= LINK_RECHECK_S:
            self.counters.link_quality = self._link.quality()
            self._link_checked_at = now
        quality = self.counters.link_quality
        decision = decide(cfg, unix, self.power, self.budget.spent(unix), quality)
        if not decision.allowed:
            self.counters.link_up = quality > 0.0
            return self._hold(decision.reason)
        batch = self.queue.next_batch(self._batch_cap, cfg.batch_max_kb * 1024, cfg.max_priority)
        if not batch:
            return self._hold("queue empty")
        self.counters.requests += 1
        try:
            result = self.transport.send(batch)
        except HttpStatusError as err:
            self._charge(unix, self.transport.last_request_bytes)  # the body went out
            if err.status not in (400, 413):
                return self._failed(now, err)
            self.counters.last_error = str(err)
            return self._split(len(batch), batch[0].key, f"refused by the gateway: {err}")
        except TransportError as err:
            return self._failed(now, err)
        self._charge(unix, result.body_bytes)
        delay = self._record_acks(now, result.acked)
        for key, reason in result.refused.items():
            self._dead_letter(key, reason)
        if delay is not None:
            return delay
        c = self.counters
        c.items_sent += len(result.acked)
        c.bytes_sent += result.body_bytes
        c.link_up, c.held = True, "sending"
        if result.unanswered:
            return self._failed(
                now,
                TransportError(
                    f"gateway did not take {len(result.unanswered)} item(s) of the batch"
                ),
            )
        self._backoff.success()
        self._batch_cap = min(cfg.batch_max_items, self._batch_cap * 2)
        return 0.0


class SenderThread:
    """Runs an engine step after step in a daemon thread; :meth:`wake` cuts a wait short.

    ``periodic`` callbacks (e.g. the over-the-air check) run between steps every ``period_s``.
    Exceptions never end the thread: they are logged and counted as the last error.
    """

    def __init__(
        self, engine: UploadEngine, periodic: list[tuple[float, Callable[[], None]]] | None = None
    ) -> None:
        self.engine = engine
        self._periodic: list[list[Any]] = [
            [period, 0.0, func] for period, func in (periodic or [])
        ]
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="uploader", daemon=True)

    def start(self) -> SenderThread:
        """Start the thread."""
        self._thread.start()
        return self

    def wake(self) -> None:
        """New items: look at the queue now (a backoff still holds)."""
        self._wake.set()

    def periodic_now(self) -> None:
        """Run the periodic callbacks at the next turn (e.g. check for updates on request)."""
        for entry in self._periodic:
            entry[1] = 0.0
        self._wake.set()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop after the step in progress."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                delay = self.engine.step()
            except Exception as err:  # noqa: BLE001 - the sender must keep running
                self.engine.counters.last_error = str(err)
                log.error("upload step failed: %s", err)
                delay = self.engine.config.idle_period_s
            now = time.monotonic()
            for entry in self._periodic:
                period, due, func = entry
                if now >= due:
                    entry[1] = now + period
                    try:
                        func()
                    except Exception as err:  # noqa: BLE001 - the sender must keep running
                        self.engine.counters.last_error = str(err)
                        log.error("periodic task failed: %s", err)
            if delay > 0:
                self._wake.wait(delay)
                self._wake.clear()
