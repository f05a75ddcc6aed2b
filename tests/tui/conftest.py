"""Fixtures of the app tests: the apps a test made, the language of the interface."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tui.app import RingroundApp
from tui.i18n import set_language


@pytest.fixture
def apps() -> Iterator[list[RingroundApp]]:
    """Apps made by a test; their database connections are closed afterwards."""
    made: list[RingroundApp] = []
    yield made
    for app in made:
        app.close_database()


@pytest.fixture(params=["en", "ru"])
def language(request: pytest.FixtureRequest) -> Iterator[str]:
    """The test runs once in each language of the interface."""
    set_language(request.param)
    yield str(request.param)
    set_language("en")


@pytest.fixture
def russian() -> Iterator[None]:
    """The interface speaks Russian during the test."""
    set_language("ru")
    yield
    set_language("en")
