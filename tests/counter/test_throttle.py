"""Failed sign-ins are counted per officer ID, with growing delays; per address only at a much higher threshold.
One officer's typos never lock out the others at the same desk or office (one address behind a NAT)."""

from __future__ import annotations

from consumers.counter.throttle import Backoff, SigninThrottle

DESK = "10.0.0.7"  # one address for the whole office


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_id_waits_longer_after_each_failure_and_others_do_not_wait() -> None:
    clock = Clock()
    throttle = SigninThrottle(per_id=3, per_address=50, clock=clock)
    for _ in range(3):
        assert throttle.held("1-4601-00000-00-1", DESK) is None
        throttle.fail("1460100000001", DESK)  # dashes or not, one ID
    waits, messages = [], []
    for _ in range(5):
        held = throttle.held("1460100000001", DESK)
        assert held is not None and not held.by_address
        waits.append(held.seconds)
        messages.append(held.message)
        # Another officer at the same desk signs in at once.
        assert throttle.held("3100600123450", DESK) is None
        clock.now += held.seconds
        assert throttle.held("1460100000001", DESK) is None
        throttle.fail("1460100000001", DESK)
    assert waits == [5.0, 10.0, 20.0, 40.0, 80.0]
    assert "รอ 5 วินาที" in messages[0][0] and "wait 5 s" in messages[0][1]
    assert "รอ 2 นาที" in messages[-1][0]  # 80 s, told in whole minutes


def test_success_clears_the_id_and_a_pause_forgets_it() -> None:
    clock = Clock()
    throttle = SigninThrottle(per_id=3, clock=clock)
    for _ in range(3):
        throttle.fail("1460100000001", DESK)
    assert throttle.held("1460100000001", DESK) is not None
    throttle.succeed("1460100000001")
    assert throttle.held("1460100000001", DESK) is None
    for _ in range(3):
        throttle.fail("1460100000001", DESK)
    clock.now += 3601
    assert throttle.held("1460100000001", DESK) is None


def test_an_address_is_held_only_at_a_much_higher_threshold() -> None:
    clock = Clock()
    throttle = SigninThrottle(per_id=3, per_address=50, clock=clock)
    # Someone trying a new ID each time: no ID reaches three, the address reaches fifty.
    for n in range(49):
        throttle.fail(f"guess-{n}", DESK)
        assert throttle.held(f"guess-{n + 1}", DESK) is None
    throttle.fail("guess-49", DESK)
    held = throttle.held("3100600123450", DESK)
    assert held is not None and held.by_address and held.seconds == 5.0
    assert "เครื่องนี้" in held.message[0]
    # Another address is not held.
    assert throttle.held("3100600123450", "10.0.0.8") is None


def test_the_wait_is_capped_and_told_in_minutes() -> None:
    clock = Clock()
    backoff = Backoff(3, clock=clock)
    for _ in range(40):
        backoff.fail("x")
    assert backoff.wait("x") == 900.0
    throttle = SigninThrottle(clock=clock)
    throttle.ids = backoff
    held = throttle.held("x", DESK)
    assert held is not None and held.message[0].endswith("15 นาที แล้วลองใหม่")
