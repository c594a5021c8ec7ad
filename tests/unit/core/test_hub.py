"""The 3 s Hub probe: unreachable is said at once; offline mode and proxies are left to the libraries."""

from __future__ import annotations

import socket

import huggingface_hub

from seq2seq_adapters.core import hub


class Refused:
    """socket.create_connection as it behaves offline, recording where it was asked to connect."""

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[str, int], float]] = []

    def __call__(self, address, timeout):
        self.calls.append((address, timeout))
        raise ConnectionRefusedError("offline")


def test_an_endpoint_that_refuses_is_unreachable_within_the_timeout(monkeypatch):
    refused = Refused()
    monkeypatch.setattr(socket, "create_connection", refused)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", "https://hub.example:8443")
    monkeypatch.setattr(hub.urllib.request, "getproxies", dict)
    assert hub.hub_unreachable(timeout=0.5)
    assert refused.calls == [(("hub.example", 8443), 0.5)]
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", "http://127.0.0.1")
    assert hub.hub_unreachable() and refused.calls[-1] == (("127.0.0.1", 80), 3.0)  # the scheme's port, 3 s


def test_a_reachable_endpoint_is_reachable(monkeypatch):
    class Connection:
        def close(self) -> None:
            pass

    monkeypatch.setattr(socket, "create_connection", lambda address, timeout: Connection())
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub.urllib.request, "getproxies", dict)
    assert not hub.hub_unreachable()


def test_offline_mode_and_a_proxy_skip_the_probe(monkeypatch):
    """HF_HUB_OFFLINE reads the cache without network; behind a proxy a direct connection says nothing."""
    refused = Refused()
    monkeypatch.setattr(socket, "create_connection", refused)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    assert not hub.hub_unreachable()
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub.urllib.request, "getproxies", lambda: {"https": "http://proxy:3128"})
    assert not hub.hub_unreachable()
    assert refused.calls == []
