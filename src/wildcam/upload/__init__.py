"""Store-and-forward upload: durable queue, upload policy, HTTP transport, over-the-air updates.

Nothing here imports rclpy. An analysed frame becomes queue items (:func:`items_for_frame`);
:class:`DurableQueue` keeps them on disk (SQLite WAL index, fsync'd payload files) under a quota
and a TTL; :class:`UploadEngine` sends batches to the gateway through :class:`HttpTransport` when
:func:`decide` allows (power, windows, link quality, daily energy budget) and deletes an item only
after the gateway acknowledged it; :class:`OtaClient` applies signed updates.
"""

from __future__ import annotations

from wildcam.upload.config import UploaderConfig
from wildcam.upload.engine import EngineCounters, SenderThread, UploadEngine
from wildcam.upload.items import DetectionInfo, FrameDetections, items_for_frame
from wildcam.upload.link import LINK_BACKENDS, GatewayProbe, LinkQuality, SimulatedLink
from wildcam.upload.ota import OtaClient, ParameterApplier, Update, verify_update
from wildcam.upload.policy import Decision, PowerFacts, decide
from wildcam.upload.queue import PRIORITY, DurableQueue, NewItem, QueuedItem, QueueStats
from wildcam.upload.transport import Backoff, HttpStatusError, HttpTransport, SendResult

__all__ = [
    "LINK_BACKENDS",
    "PRIORITY",
    "Backoff",
    "Decision",
    "DetectionInfo",
    "DurableQueue",
    "EngineCounters",
    "FrameDetections",
    "GatewayProbe",
    "HttpStatusError",
    "HttpTransport",
    "LinkQuality",
    "NewItem",
    "OtaClient",
    "ParameterApplier",
    "PowerFacts",
    "QueueStats",
    "QueuedItem",
    "SendResult",
    "SenderThread",
    "SimulatedLink",
    "Update",
    "UploadEngine",
    "UploaderConfig",
    "decide",
    "items_for_frame",
    "verify_update",
]
