"""Shared account fixtures (defined once in tests/helpers.py)."""
from tests.helpers import ada, bob, clock, utc_clock  # noqa: F401
