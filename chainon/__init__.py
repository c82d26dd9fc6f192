"""Chainon: an event-sourced omnichannel conversation core."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("chainon")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"
