"""The `live` fixture (a `SessionRunner` on scripted fakes) for every runner test."""

from .test_runner import live

__all__ = ["live"]
