"""Repository-wide test settings: every async test runs on asyncio and on trio."""

from __future__ import annotations

import pytest

# pytester: the plugin tests run pytest on bare user projects.
pytest_plugins = ["pytester"]


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run each async test once per anyio backend."""
    return str(request.param)
