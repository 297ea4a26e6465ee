"""The key use the dormant-key detector reads: any request counts, the longest idle stretch since
the key's last accepted order decides (a polling grid bot is not dormant; a stolen key that
wakes, polls and then trades still is)."""

from __future__ import annotations

from kcgateway.risk.key_use import KeyUse
from tests.kcgateway.risk.builders import NOW, activity, check

HOUR, DAY = 3_600_000, 86_400_000


def test_a_key_never_used_has_no_last_use() -> None:
    assert KeyUse().view(NOW) == (None, None)


def test_a_key_that_polls_hourly_for_ten_days_is_not_dormant_when_it_trades() -> None:
    use = KeyUse()
    use.traded(NOW - 10 * DAY)
    for hour in range(1, 240):
        use.used(NOW - 10 * DAY + hour * HOUR)
    last, until = use.view(NOW)
    assert last is not None and (until or NOW) - last == HOUR  # the longest idle stretch
    assert check(act=activity(key_last_used_ms=last, key_idle_until_ms=until)).signals == ()


def test_a_key_that_wakes_after_eight_days_then_polls_is_still_judged_dormant() -> None:
    use = KeyUse()
    use.traded(NOW - 9 * DAY)
    use.used(NOW - 60_000)  # wakes: reads the balances
    use.used(NOW - 1_000)  # and the open orders
    use.used(NOW)  # the order's own request
    last, until = use.view(NOW)
    assert (last, until) == (NOW - 9 * DAY, NOW - 60_000)
    d = check(act=activity(key_last_used_ms=last, key_idle_until_ms=until))
    assert [s.code for s in d.signals] == ["risk.detector.dormant_key"]
    assert "unused for" in d.signals[0].message and "unused for 9 days" in d.signals[0].message


def test_an_accepted_order_closes_the_stretches_before_it() -> None:
    use = KeyUse()
    use.traded(NOW - 9 * DAY)
    use.used(NOW - DAY)
    use.traded(NOW - DAY + 1)
    assert use.view(NOW) == (NOW - DAY + 1, None)  # the open stretch since that order


def test_an_open_stretch_longer_than_the_closed_one_is_the_one_judged() -> None:
    use = KeyUse()
    use.traded(NOW - 30 * DAY)
    use.used(NOW - 29 * DAY)  # a one-day stretch, closed
    assert use.view(NOW) == (NOW - 29 * DAY, None)  # 29 idle days, still open


def test_late_or_repeated_times_change_nothing() -> None:
    use = KeyUse()
    use.used(NOW)
    use.used(NOW)
    use.used(NOW - DAY)  # a request that was authenticated earlier, reported late
    assert (use.last_ms, use.view(NOW)) == (NOW, (NOW, None))
