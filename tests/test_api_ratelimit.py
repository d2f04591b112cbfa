"""The login limiter's window, on a fake clock (the HTTP path is in test_api.py)."""

from __future__ import annotations

from biofab.api.ratelimit import RateLimiter, retry_after


def test_sliding_window_refuses_then_frees_a_slot() -> None:
    now = [0.0]
    limiter = RateLimiter(3, 60.0, clock=lambda: now[0])
    for t in (0.0, 10.0, 20.0):
        now[0] = t
        assert limiter.hit(["10.0.0.1"]) is None
    now[0] = 30.0
    wait = limiter.hit(["10.0.0.1"])
    assert wait == 30.0 and retry_after(wait) == "30"  # the t=0 attempt leaves at t=60
    assert limiter.hit(["10.0.0.2"]) is None  # another address has its own budget
    now[0] = 60.0
    assert limiter.hit(["10.0.0.1"]) is None  # the refused attempt at t=30 was not counted
    assert limiter.hit(["10.0.0.1"]) == 10.0  # now the t=10 attempt is the oldest
    assert retry_after(0.2) == "1"
