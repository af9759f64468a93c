"""The ingest gateway (``wildcam gateway``): token-authenticated, size-limited, deduplicating,
content-addressed storage of uploaded items, and the channel for signed over-the-air updates."""

from __future__ import annotations

from wildcam.gateway.server import Gateway, GatewayConfig, load_token, make_app, serve
from wildcam.gateway.store import GatewayStore

__all__ = ["Gateway", "GatewayConfig", "GatewayStore", "load_token", "make_app", "serve"]
