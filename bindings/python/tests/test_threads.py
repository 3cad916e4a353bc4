"""Thread safety: many threads decide while another reloads, rolls back, suspends and resumes."""

from __future__ import annotations

import threading
from typing import List

import mandate
from conftest import CTX, INVOKE, agent, tool


def test_threads_decide_while_another_reloads_and_suspends(engine: mandate.Engine) -> None:
    bot = agent("triage-bot")
    engine.agents.register(bot, ("Platform::Human", "alice"), attributes={"model": "m", "trust_level": 2},
                           parents=[("Platform::Team", "support")])
    versions = {engine.policy_version}
    stop = threading.Event()
    errors: List[BaseException] = []
    counts: List[int] = []

    def decide() -> None:
        n = 0
        try:
            while not stop.is_set() or n < 200:
                d = engine.authorize(bot, INVOKE, tool("ticket-search"), CTX, dry_run=True)
                assert d.decision in ("allow", "deny")
                if not d.allowed:
                    assert d.reasons == ["lifecycle:suspended"], d
                n += 1
        except BaseException as e:  # reported below
            errors.append(e)
        counts.append(n)

    threads = [threading.Thread(target=decide) for _ in range(8)]
    for t in threads:
        t.start()
    for _ in range(50):
        engine.agents.suspend(bot)
        assert not engine.authorize(bot, INVOKE, tool("ticket-search"), CTX).allowed
        engine.agents.resume(bot)
        versions.add(engine.reload())
        engine.rollback()
    stop.set()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(counts) == 8 and min(counts) >= 200
    assert engine.authorize(bot, INVOKE, tool("ticket-search"), CTX).allowed


def test_the_gil_is_released_while_deciding(engine: mandate.Engine) -> None:
    # A Python thread keeps running while others are inside authorize_many.
    requests = [(agent("triage-bot"), INVOKE, tool("ticket-search"), CTX)] * 20000
    ticks = [0]
    done = threading.Event()

    def ticker() -> None:
        while not done.is_set():
            ticks[0] += 1

    t = threading.Thread(target=ticker)
    t.start()
    engine.authorize_many(requests, dry_run=True)
    done.set()
    t.join()
    assert ticks[0] > 0
