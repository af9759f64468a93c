"""Store-and-forward upload: durable queue, upload policy, HTTP transport, over-the-air updates.

Nothing here imports rclpy. An analysed frame becomes queue items (:func:`items_for_frame`);
:class:`DurableQueue` keeps them on disk (SQLite WAL index, fsync'd payload files) under a quota
and a TTL; :class:`UploadEngine` sends batches to the gateway through :class:`HttpTransport` when
:func:`decide` allows (power, windows, link quality, daily energy budget) and deletes an item only
after the gateway acknowledged it; :class:`OtaClient` applies signed updates. Each name is
imported from its module when first used (a node needs only some of them).
"""

from __future__ import annotations

from wildcam.lazy_exports import lazy_exports

_EXPORTS = {
    "config": ("UploaderConfig",),
    "engine": ("EngineCounters", "SenderThread", "UploadEngine"),
    "items": ("DetectionInfo", "FrameDetections", "items_for_frame"),
    "link": ("LINK_BACKENDS", "GatewayProbe", "LinkQuality", "SimulatedLink"),
    "ota": ("OtaClient", "ParameterApplier", "Update", "verify_update"),
    "policy": ("Decision", "PowerFacts", "decide"),
    "queue": ("PRIORITY", "DurableQueue", "NewItem", "QueuedItem", "QueueStats"),
    "transport": ("Backoff", "HttpStatusError", "HttpTransport", "SendResult"),
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(name for names in _EXPORTS.values() for name in names)
