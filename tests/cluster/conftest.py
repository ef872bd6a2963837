"""The cluster suite runs on the ``cluster`` topology: ``env`` and ``redis_client`` point
at the session's 3-master Redis Cluster (``cluster``, see tests/conftest.py), or at the
topology a module brings as its own ``cluster`` (or ``sentinel``)."""

from __future__ import annotations

import pytest


@pytest.fixture
def redis_topology() -> str:
    return "cluster"
