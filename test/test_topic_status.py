"""Frequency and timestamp status of a topic, as diagnostic_updater judges them (no ROS)."""

from __future__ import annotations

from wildcam.topic_status import ERROR, OK, WARN, TopicReport, TopicStatus


def _run(
    status: TopicStatus, rate_hz: float, seconds: int, start_s: float = 0.0, delay_s: float = 0.05
) -> TopicReport:
    """Tick at ``rate_hz`` for ``seconds``, reporting once a second like Health does; the last
    report."""
    n = int(rate_hz)
    for second in range(seconds):
        for k in range(n):
            now = start_s + second + k / rate_hz
            status.tick(now - delay_s, now)
        report = status.report(start_s + second + 1)
    return report


def test_rate_against_the_expected_range() -> None:
    expected: list[tuple[float, float] | None] = [(10.0, 10.0)]
    status = TopicStatus(lambda: expected[0])
    assert status.report(0.0).message == "desired frequency not measured yet"
    report = _run(status, 10, 6)
    values = dict(report.values)
    assert report.level == OK and report.message == "desired frequency met"
    assert values["events in window"] == "50" and values["events since startup"] == "60"
    assert values["actual frequency (Hz)"] == "10.00"
    assert values["minimum acceptable frequency (Hz)"] == "10.00"
    slow = _run(status, 5, 6, start_s=6.0)
    assert (slow.level, slow.message) == (WARN, "frequency too low")
    assert _run(status, 20, 6, start_s=12.0).message == "frequency too high"
    for t in range(19, 26):  # the camera stalled
        last = status.report(float(t))
    assert last.level == ERROR and last.message == "no events recorded"
    expected[0] = None  # asleep: no rate is expected, silence is fine
    quiet = status.report(26.0)
    assert quiet.level == OK and quiet.message == "no rate expected now"
    assert "minimum acceptable frequency (Hz)" not in dict(quiet.values)


def test_stamp_delays_since_the_last_report() -> None:
    status = TopicStatus()
    status.tick(9.9, 10.0)
    status.tick(9.5, 10.0)
    report = status.report(10.0)
    values = dict(report.values)
    assert report.level == OK
    assert (values["earliest timestamp delay (s)"], values["latest timestamp delay (s)"]) == (
        "0.100",
        "0.500",
    )
    status.tick(3.0, 10.0)  # 7 s old: a capture stamp far in the past
    assert status.report(11.0).message == "timestamps too far in past seen"
    status.tick(12.5, 11.0)
    assert status.report(12.0).message == "timestamps too far in future seen"
    status.tick(0.0, 12.0)
    zero = status.report(13.0)
    assert (zero.level, zero.message) == (ERROR, "zero timestamp seen")
    status.tick(None, 13.0)  # counted, no stamp to judge
    after = status.report(14.0)  # each report judges the stamps since the one before
    assert (after.level, after.message) == (OK, "no rate expected now")
    assert dict(after.values)["events since startup"] == "6"
