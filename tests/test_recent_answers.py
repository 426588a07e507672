"""The per-process "still active?" answers (queries/engine/ttl_cache.py): an entry that expires while it is
being looked up is computed again, never an error (CI saw a KeyError 500 on a sign-in check)."""

from __future__ import annotations

import itertools

from queries.engine.ttl_cache import RecentAnswers


def test_an_answer_expiring_during_the_lookup_is_computed_again():
    ticks = itertools.count()  # every reading of the clock is one second later: entries expire mid-call
    answers = RecentAnswers(size=8, seconds=2, timer=lambda: next(ticks))
    computed = []

    def compute():
        computed.append(1)
        return None  # "no such user" is an answer too

    for _ in range(200):
        assert answers.get_or_compute(("url", "pat"), compute) is None
    assert 1 < len(computed) < 200  # answers were reused, and recomputed after they expired


def test_a_forgotten_answer_is_computed_again():
    answers = RecentAnswers(size=8, seconds=60)
    assert answers.get_or_compute("k", lambda: 1) == 1
    assert answers.get_or_compute("k", lambda: 2) == 1
    answers.forget("k")
    assert answers.get_or_compute("k", lambda: 3) == 3
