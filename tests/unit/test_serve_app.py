"""`serve`'s app factory takes start-up's objects out of the garbage collector's sight (see
server.app.serve_app); create_app, which tests and embedding programs call, does not."""

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from gong_meetings.config import Settings
from gong_meetings.server.app import create_app, serve_app


@pytest.fixture
def nothing_frozen(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setenv("GONG_MEETINGS_DATABASE_URL", f"sqlite:///{tmp_path / 'serve.db'}")
    gc.unfreeze()
    yield
    gc.unfreeze()  # the rest of the suite makes apps whose cycles must stay collectable


def test_serve_app_freezes_what_start_up_made(nothing_frozen: None) -> None:
    app = serve_app()
    assert gc.get_freeze_count() > 10_000  # modules and the app, not a handful
    assert not any(tracked is app for tracked in gc.get_objects())  # in no generation now


def test_create_app_leaves_the_collector_alone(nothing_frozen: None, tmp_path: Path) -> None:
    create_app(Settings(database_url=f"sqlite:///{tmp_path / 'app.db'}"))
    assert gc.get_freeze_count() == 0
