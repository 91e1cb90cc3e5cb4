"""Memory stays flat request after request (bench/memory.py runs 100,000).

Flask hands the app a new callable on every request for a class-based view
(a bound method of a new view object) and for an after_this_request
callback: anything that remembers callables per request, such as an
unbounded ensure_sync cache, grows by a few objects a request, which this
test counts. The hot paths (an authenticated read, a profile, 10, 99, 88)
run in the same loop.
"""
from __future__ import annotations

from pathlib import Path

from bench.memory import build_app, drive

REQUESTS = 3_000
# remembering each class-based view call and each after_this_request callback
# (one kind of request in seven each) leaves about REQUESTS // 2 objects; the
# app's own caches, weak references and background work settle well under this
MAX_NEW_OBJECTS = REQUESTS // 4
MAX_RSS_GROWTH = 8 * 2**20


def test_requests_leave_memory_flat(tmp_path: Path) -> None:
    # the periodic prune (once per PRUNE_INTERVAL, one-off objects) would
    # make the count depend on when it falls; bench/memory.py keeps it on
    app = build_app(tmp_path / "memory.db", PRUNE_INTERVAL=0)
    points = list(drive(app, 500 + REQUESTS, 500))
    (_, rss_before, objects_before), (_, rss_after, objects_after) = points[0], points[-1]
    assert objects_after - objects_before < MAX_NEW_OBJECTS
    assert rss_after - rss_before < MAX_RSS_GROWTH
