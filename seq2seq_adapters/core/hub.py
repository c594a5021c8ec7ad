"""Is the Hugging Face Hub reachable? A 3 s probe instead of the libraries' ~25 s of retries offline."""

from __future__ import annotations

import socket
import urllib.request
from urllib.parse import urlparse

import huggingface_hub


def hub_unreachable(timeout: float = 3.0) -> bool:
    """Probe the Hub endpoint: offline, datasets would retry for ~25 s before failing.

    Skipped in HF_HUB_OFFLINE mode (datasets then reads its cache without network) and behind a proxy.
    """
    if huggingface_hub.constants.HF_HUB_OFFLINE or urllib.request.getproxies().get("https"):
        return False
    endpoint = urlparse(huggingface_hub.constants.ENDPOINT)
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        socket.create_connection((endpoint.hostname, port), timeout=timeout).close()
    except OSError:
        return True
    return False
