"""Fixtures for the media tests: files go to a temporary MEDIA_ROOT."""

import pytest


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media-store"
    return settings.MEDIA_ROOT
