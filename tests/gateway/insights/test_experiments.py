"""The holdout and A/B tests: stable groups of the right size, and what each group sees."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from gateway.insights.experiment import Experiment, assign, uniform
from gateway.insights.lift import NOT_ENOUGH, Exposure, lifts
from gateway.settings import SettingsError
from graph import Graph
from tests.conftest import TEST_PII_KEY
from tests.gateway.conftest import Serve, grant, settings_for_tests
from tests.gateway.insights.conftest import customer_or_backend, figures, home

AB = {
    "name": "weights-2026-12",
    "variants": [
        {"name": "A", "share": 0.5},
        {"name": "B", "share": 0.5, "weights": {"collaborative": 0.0, "bought-together": 0.0}},
    ],
}
PERSONAL = {"collaborative", "bought-together", "affinity", "in-session"}


def test_the_holdout_is_stable_and_its_share_within_tolerance() -> None:
    subjects = [f"customer:c{i}" for i in range(20_000)]
    first = [assign(TEST_PII_KEY, s, 0.05, None).arm for s in subjects]
    again = [assign(TEST_PII_KEY, s, 0.05, None).arm for s in subjects]
    assert first == again
    share = first.count("holdout") / len(first)
    # Three standard deviations of a binomial share of 5 % over 20,000 shoppers.
    assert abs(share - 0.05) < 3 * (0.05 * 0.95 / len(first)) ** 0.5
    # Another deployment's key puts other shoppers in it: nobody can compute it unkeyed.
    other = [assign("another-key", s, 0.05, None).arm for s in subjects]
    assert sum(a != b for a, b in zip(first, other, strict=True)) > 0.05 * len(first)


def test_variants_split_the_rest_by_their_shares_and_a_new_experiment_keeps_the_holdout() -> None:
    experiment = Experiment.model_validate(
        {"name": "x", "variants": [{"name": "A", "share": 0.7}, {"name": "B", "share": 0.3}]}
    )
    renamed = experiment.model_copy(update={"name": "y"})
    subjects = [f"device:d{i}" for i in range(20_000)]
    groups = [assign(TEST_PII_KEY, s, 0.1, experiment) for s in subjects]
    later = [assign(TEST_PII_KEY, s, 0.1, renamed) for s in subjects]
    counts = Counter(g.blend for g in groups)
    rest = len(subjects) - counts["holdout"]
    assert abs(counts["A"] / rest - 0.7) < 0.02 and abs(counts["B"] / rest - 0.3) < 0.02
    assert [g.holdout for g in groups] == [g.holdout for g in later]
    assert [g.blend for g in groups] != [g.blend for g in later]


def test_an_experiment_whose_shares_do_not_add_up_is_refused_at_start_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bad = '{"name": "x", "variants": [{"name": "A", "share": 0.5}, {"name": "B", "share": 0.4}]}'
    monkeypatch.setenv("TIGHTROPE_EXPERIMENT", bad)
    with pytest.raises(SettingsError, match=r"TIGHTROPE_EXPERIMENT.*add up to 1"):
        settings_for_tests()


def held_out(customer: str, share: float) -> bool:
    return uniform(TEST_PII_KEY, "holdout", f"customer:{customer}") < share


async def test_the_holdout_sees_what_everyone_sees_and_the_others_their_own(
    shop: Graph, served: Serve
) -> None:
    settings = settings_for_tests(holdout_share=0.5)
    shoppers = ["u1", "u2", "u3", "u4", "u5", "ana"]
    held = {c for c in shoppers if held_out(c, 0.5)}
    assert held and held != set(shoppers)  # the fixture's key splits them
    async with served(settings, authenticate=customer_or_backend) as (app, client):
        lists = {c: await home(client, c, f"{c}-visit", first=8) for c in shoppers}
        again = {c: await home(client, c, f"{c}-again", first=8) for c in shoppers}
        found = await figures(app, shop)
    for c in shoppers:
        strategies = {i["strategy"] for i in lists[c]["items"]}
        assert bool(strategies & PERSONAL) == (c not in held), (c, strategies)
        # The same shopper is in the same group in every request.
        assert bool({i["strategy"] for i in again[c]["items"]} & PERSONAL) == (c not in held)
    arms = {s.customer_id: s.arm for s in found.lists}
    assert arms == {c: "holdout" if c in held else "personal" for c in shoppers}


async def test_a_shopper_who_refused_analytics_is_never_held_out(
    shop: Graph, served: Serve
) -> None:
    assert held_out("u3", 0.5)
    await grant(shop, "u3", "analytics", granted=False)
    settings = settings_for_tests(holdout_share=0.5)
    async with served(settings, authenticate=customer_or_backend) as (_, client):
        listed = await home(client, "u3", "u3-visit", first=8)
    assert {i["strategy"] for i in listed["items"]} & PERSONAL


async def test_an_ab_test_blends_each_variant_with_its_weights(
    shop: Graph, served: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    monkeypatch.setenv("TIGHTROPE_EXPERIMENT", json.dumps(AB))
    settings = settings_for_tests(holdout_share=0.0)
    shoppers = ["u1", "u2", "u3", "u4", "u5", "u6", "ana"]
    async with served(settings, authenticate=customer_or_backend) as (app, client):
        lists = {c: await home(client, c, f"{c}-visit", first=8) for c in shoppers}
        found = await figures(app, shop)
    blends = {s.customer_id: s.blend for s in found.lists}
    assert set(blends.values()) == {"A", "B"}
    assert {s.experiment for s in found.lists} == {"weights-2026-12"}
    for c in shoppers:
        strategies = {i["strategy"] for i in lists[c]["items"]}
        if blends[c] == "B":
            assert not strategies & {"collaborative", "bought-together"}, (c, strategies)
    comparisons = {lift.comparison: lift for lift in found.lifts}
    ab = comparisons["weights-2026-12: B against A"]
    assert ab.status == NOT_ENOUGH and ab.result is None
    assert "shoppers of the 100 needed" in (ab.needed or "")


def exposure(i: int, arm: str, converted: bool) -> Exposure:
    at = datetime(2026, 12, 1, tzinfo=UTC) + timedelta(minutes=i)
    return Exposure(f"customer:{arm}{i}", f"{arm}{i}", at, arm, arm, None, converted)


def test_lift_is_measured_with_its_interval_once_there_is_enough_data() -> None:
    # 2,000 personal shoppers converting at 15 %, 400 held out at 10 %: a lift of 50 %.
    found = [exposure(i, "personal", i % 20 < 3) for i in range(2000)]
    found += [exposure(i, "holdout", i % 10 < 1) for i in range(400)]
    (lift,) = lifts(found, min_subjects=100)
    assert lift.status == "measured" and lift.result is not None
    r = lift.result
    assert (r.rate_treatment, r.rate_control) == (0.15, 0.10)
    assert r.lift == pytest.approx(0.5)
    # Katz: exp(±1.96 · sqrt(0.85/300 + 0.9/40)) around the ratio 1.5.
    assert r.lift_low == pytest.approx(1.5 * 2.718281828 ** (-1.96 * 0.15927) - 1, abs=1e-3)
    assert r.lift_high == pytest.approx(1.5 * 2.718281828 ** (1.96 * 0.15927) - 1, abs=1e-3)
    assert r.significant and r.p_value < 0.01
    assert "Katz" in lift.method


def test_below_the_minimum_sample_the_answer_is_not_enough_data_yet() -> None:
    found = [exposure(i, "personal", i % 5 == 0) for i in range(1000)]
    found += [exposure(i, "holdout", i % 5 == 0) for i in range(40)]
    (lift,) = lifts(found, min_subjects=100)
    assert lift.status == NOT_ENOUGH and lift.result is None and not lift.significant
    assert lift.needed == "holdout has 40 shoppers of the 100 needed"
    few = [exposure(i, "personal", i < 30) for i in range(500)]
    few += [exposure(i, "holdout", i < 3) for i in range(200)]
    (lift,) = lifts(few, min_subjects=100)
    assert lift.needed == "holdout has 3 conversions of the 10 needed"
