"""Probabilistic links from a shared network: households, public networks, consent, undoing.

Ana signs in on her phone at home and looks at a few products; a laptop
nobody signed in on, on the same home network, looks at the same products
half an hour later. That is the network linker's strong case, and each test
here changes one thing about it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gateway import ConsentQuestion, DataCategory, Decision, Purpose, Settings, hookimpl
from gateway.linking import rules
from graph import Graph
from graph.erasure import erase_customer
from graph.recs import ProfileKey, profile_of
from graph.retention import prune
from tests.conftest import TEST_PII_KEY
from tests.gateway.conftest import (
    TEST_CUSTOMER_HEADER,
    Serve,
    codes,
    gql,
    grant,
    serve,
    settings_for_tests,
)
from tests.gateway.linking_helpers import (
    CAFE,
    HOME,
    HOME_2,
    IPAD,
    IPHONE,
    MAC,
    OTHER_HOME,
    add_customers,
    as_shop_or_customer,
    links,
    login,
    reports,
    track,
    view,
)

ANA_LOOKS_AT = ("sku-001", "sku-002", "sku-003", "sku-004")


def guessing(**overrides: Any) -> Settings:
    """The tests' settings with probabilistic linking turned on (it is opt-in).

    At 0.8 rather than the default 0.9: three products looked at half an hour
    apart score about 0.85 (in the evaluation, guesses scored 0.8 to 0.9 were
    right about nine times in ten); the threshold test checks the default.
    """
    overrides.setdefault("linking_min_confidence", 0.8)
    return settings_for_tests(linking_probabilistic=True, **overrides)


@pytest.fixture
def served() -> Serve:
    """Apps with probabilistic linking on, unless a test passes settings of its own."""

    def with_guessing(settings: Settings | None = None, *args: Any, **kwargs: Any) -> Any:
        return serve(settings or guessing(), *args, **kwargs)

    return with_guessing


def phone_of(
    customer: str, network: str = HOME, skus: tuple[str, ...] = ANA_LOOKS_AT
) -> list[dict[str, Any]]:
    device, session = f"{customer}-phone", f"{customer}-p1"
    signals = {"network": network, "userAgent": IPHONE}
    return [login(device, session, customer, 0, **signals)] + [
        view(device, session, sku, 1 + i, **signals) for i, sku in enumerate(skus)
    ]


def laptop(
    device: str = "laptop",
    network: str = HOME_2,
    skus: tuple[str, ...] = ANA_LOOKS_AT[:3],
    start: float = 30,
) -> list[dict[str, Any]]:
    signals = {"network": network, "userAgent": MAC}
    return [
        view(device, f"{device}-s{start}", sku, start + i, **signals) for i, sku in enumerate(skus)
    ]


def guessed(found: set[tuple[str, str, str]]) -> set[tuple[str, str]]:
    return {(d, c) for d, c, m in found if m == "probabilistic"}


async def test_a_laptop_on_the_home_network_looking_at_the_same_things_is_linked(
    demo_graph: Graph, served: Serve
) -> None:
    await add_customers(demo_graph, "ana")
    async with served(authenticate=as_shop_or_customer) as (app, client):
        await track(app, client, phone_of("ana"))
        await track(app, client, laptop())
        body = await gql(
            client,
            "{ me { devices { id link { method confidence evidence } } } }",
            customer="ana",
        )
    assert guessed(await links(demo_graph)) == {("laptop", "ana")}
    link = next(d["link"] for d in body["data"]["me"]["devices"] if d["id"] == "laptop")
    assert link["method"] == "probabilistic"
    assert 0.8 <= link["confidence"] < 0.9
    assert link["evidence"][0] == "Used on the same network as your phone"
    assert "Looked at 3 products you also looked at" in link["evidence"]


async def test_no_guess_is_made_unless_the_operator_turns_probabilistic_linking_on(
    demo_graph: Graph,
) -> None:
    # The strong case of the test above, on the default settings: the phone's
    # sign-in is linked, the laptop is not guessed.
    await add_customers(demo_graph, "ana")
    async with serve(settings_for_tests(), authenticate=as_shop_or_customer) as (app, client):
        await track(app, client, phone_of("ana"))
        await track(app, client, laptop())
    found = await links(demo_graph)
    assert ("ana-phone", "ana", "login") in found
    assert guessed(found) == set()


class NoLinkingFor:
    """A plugin's consent policy: no cross_device reads about one customer."""

    tightrope_name = "no-linking-for"

    def __init__(self, customer_id: str) -> None:
        self.customer_id = customer_id
        self.asked: list[ConsentQuestion] = []

    def decide(self, question: ConsentQuestion) -> Decision:
        if question.purpose is not Purpose.CROSS_DEVICE:
            return question.allow()
        self.asked.append(question)
        if question.customer_id == self.customer_id:
            return question.deny("under review")
        return question.allow()

    @hookimpl
    def register_consent_policies(self) -> list[NoLinkingFor]:
        return [self]


async def test_linking_asks_the_consent_gate_so_any_consent_policy_can_refuse_a_guess(
    demo_graph: Graph, served: Serve
) -> None:
    # Ana granted cross_device; another plugin's policy still says no for her.
    await add_customers(demo_graph, "ana", "fay")
    policy = NoLinkingFor("ana")
    async with served(plugins=[policy], authenticate=as_shop_or_customer) as (app, client):
        await track(app, client, phone_of("ana"))
        await track(app, client, laptop())
        await track(app, client, phone_of("fay", network=OTHER_HOME))
        await track(app, client, laptop("fays-laptop", network=OTHER_HOME))
    assert guessed(await links(demo_graph)) == {("fays-laptop", "fay")}
    # The question is the gate's: purpose, the network linker's categories and
    # plugin, no client (linking runs after the response).
    about_ana = [q for q in policy.asked if q.customer_id == "ana"]
    assert about_ana and {q.plugin for q in about_ana} == {"tightrope-network-linker"}
    assert all(q.client_id is None and q.client_kind is None for q in about_ana)
    assert about_ana[0].categories == {DataCategory.DEVICE, DataCategory.BROWSING_HISTORY}


async def test_a_device_browsed_before_the_phone_signed_in_is_found_by_the_sign_in(
    demo_graph: Graph, served: Serve
) -> None:
    await add_customers(demo_graph, "ana")
    async with served(authenticate=as_shop_or_customer) as (app, client):
        await track(app, client, laptop(start=0))  # nobody to link it to yet
        assert guessed(await links(demo_graph)) == set()
        await track(app, client, phone_of("ana"))
    assert guessed(await links(demo_graph)) == {("laptop", "ana")}


async def test_a_household_member_is_not_linked_for_browsing_other_things(
    demo_graph: Graph, served: Serve
) -> None:
    await add_customers(demo_graph, "ana")
    async with served(authenticate=as_shop_or_customer) as (app, client):
        await track(app, client, phone_of("ana"))
        # Her partner's laptop: same network, same evening, other products.
        await track(app, client, laptop(skus=("sku-040", "sku-041", "sku-042")))
    assert guessed(await links(demo_graph)) == set()


async def test_a_second_phone_on_the_home_network_is_not_guessed_to_be_hers(
    demo_graph: Graph, served: Serve
) -> None:
    await add_customers(demo_graph, "ana")
    android = (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36"
    )
    partners = {"network": HOME_2, "userAgent": android}
    async with served(authenticate=as_shop_or_customer) as (app, client):
        await track(app, client, phone_of("ana"))
        # The laptop of the strong case, but a phone: Ana's is proved there, and
        # people seldom carry two; a partner browsing her list on theirs does.
        await track(
            app,
            client,
            [
                view("other-phone", "op-1", sku, 30 + i, **partners)
                for i, sku in enumerate(ANA_LOOKS_AT[:3])
            ],
        )
    assert guessed(await links(demo_graph)) == set()


async def test_a_shared_family_tablet_does_not_merge_two_customers(
    demo_graph: Graph, served: Serve
) -> None:
    await add_customers(demo_graph, "ana", "ben")
    await grant(demo_graph, "ana", "personalisation")  # recentlyViewed needs it
    bens = ("sku-020", "sku-021", "sku-022")
    tablet = {"network": HOME, "userAgent": IPAD}
    async with served(
        guessing(history_min_link_confidence=0.5), authenticate=as_shop_or_customer
    ) as (app, client):
        await track(app, client, phone_of("ana"))
        await track(app, client, phone_of("ben", skus=bens))
        # Both sign in on the family tablet, each in a session of their own.
        await track(
            app,
            client,
            [login("tablet", "t-ana", "ana", 40, **tablet), view("tablet", "t-ana", "sku-005", 41)],
        )
        await track(
            app,
            client,
            [login("tablet", "t-ben", "ben", 50, **tablet), view("tablet", "t-ben", "sku-023", 51)],
        )
        # Someone browses on the tablet without signing in: things both looked at.
        await track(app, client, [view("tablet", "t-anon", s, 60 + i, **tablet)
                                  for i, s in enumerate(("sku-001", "sku-020"))])  # fmt: skip
        # A new device on the network looks at what both of them looked at.
        await track(app, client, laptop(skus=("sku-001", "sku-002", "sku-020", "sku-021")))
        ana = await gql(client, "{ me { recentlyViewed { product { sku } } } }", customer="ana")
    found = {(d, c, m) for d, c, m in await links(demo_graph) if c != "c1"}
    # The tablet is both of theirs, proved; nothing is guessed across them.
    assert found == {
        ("ana-phone", "ana", "login"),
        ("ben-phone", "ben", "login"),
        ("tablet", "ana", "login"),
        ("tablet", "ben", "login"),
    }
    seen = {item["product"]["sku"] for item in ana["data"]["me"]["recentlyViewed"]}
    # Ben's signed-in session on the shared tablet is never Ana's, nor is the
    # visit nobody signed in to (graph/sessions.py: a shared device's).
    assert "sku-023" not in seen and "sku-005" in seen
    assert "sku-020" not in seen


async def test_a_public_network_is_ignored(demo_graph: Graph, served: Serve) -> None:
    # Five customers' phones at the cafe (more than the four customers a home
    # network has): a laptop there looking at exactly Ana's products is not hers.
    people = ["ana", "ben", "cat", "dan", "eve"]
    await add_customers(demo_graph, *people)
    async with served(authenticate=as_shop_or_customer) as (app, client):
        for i, person in enumerate(people):
            skus = ANA_LOOKS_AT if person == "ana" else (f"sku-0{30 + i}",)
            await track(app, client, phone_of(person, network=CAFE, skus=skus))
        await track(app, client, laptop("cafe-laptop", network=CAFE))
    assert guessed(await links(demo_graph)) == set()
    # The same evidence on a network that is nobody else's does link.
    await add_customers(demo_graph, "fay")
    async with served(authenticate=as_shop_or_customer) as (app, client):
        await track(app, client, phone_of("fay", network=OTHER_HOME))
        await track(app, client, laptop("fays-laptop", network=OTHER_HOME))
    assert guessed(await links(demo_graph)) == {("fays-laptop", "fay")}


async def test_no_guess_without_consent_and_withdrawing_it_removes_the_guesses(
    demo_graph: Graph, served: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_customers(demo_graph, "ana", consenting=None)  # never asked: opt-in says no
    await add_customers(demo_graph, "ben", consenting=False)  # refused
    async with served(authenticate=as_shop_or_customer) as (app, client):
        done = reports(app, monkeypatch)
        await track(app, client, phone_of("ana"))
        await track(app, client, laptop("ana-laptop"))
        await track(app, client, phone_of("ben", network=OTHER_HOME))
        await track(app, client, laptop("ben-laptop", network=OTHER_HOME))
        guesses = [o for r in done for o in r.outcomes if not o.proposal.deterministic]
    assert guessed(await links(demo_graph)) == set()
    # The linker was not even shown their browsing: it proposed nothing for them.
    assert guesses == []

    # She grants it, through the API (the gate reads it from the next batch on).
    change = 'mutation { setConsent(purpose: "cross_device", granted: %s) { granted } }'
    ana = {TEST_CUSTOMER_HEADER: "ana"}
    async with served(authenticate=as_shop_or_customer) as (app, client):
        granted = await client.post("/graphql", json={"query": change % "true"}, headers=ana)
        assert granted.json()["data"]["setConsent"] == {"granted": True}
        await track(app, client, laptop("ana-laptop", start=40))
        assert guessed(await links(demo_graph)) == {("ana-laptop", "ana")}

        # She withdraws it: the gate's consent_withdrawn hook drops her guesses.
        withdrawn = await client.post("/graphql", json={"query": change % "false"}, headers=ana)
        assert withdrawn.json()["data"]["setConsent"] == {"granted": False}
        found = await links(demo_graph)
        assert guessed(found) == set()
        assert ("ana-phone", "ana", "login") in found  # what she proved stays
        # And the same laptop seen again is not guessed at any more.
        await track(app, client, laptop("ana-laptop", start=80))
    assert guessed(await links(demo_graph)) == set()


async def test_a_withdrawal_while_a_batch_is_being_linked_leaves_no_guess(
    demo_graph: Graph, served: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_customers(demo_graph, "ana")
    change = 'mutation { setConsent(purpose: "cross_device", granted: false) { granted } }'
    write = rules.apply_links
    async with served(authenticate=as_shop_or_customer) as (app, client):
        await track(app, client, phone_of("ana"))

        async def withdrawn_meanwhile(*args: Any, **kwargs: Any) -> Any:
            # Ana withdraws after the gate said yes, before the links are written.
            answer = await client.post(
                "/graphql", json={"query": change}, headers={TEST_CUSTOMER_HEADER: "ana"}
            )
            assert answer.json()["data"]["setConsent"] == {"granted": False}
            return await write(*args, **kwargs)

        monkeypatch.setattr(rules, "apply_links", withdrawn_meanwhile)
        await track(app, client, laptop())
    found = await links(demo_graph)
    assert guessed(found) == set()
    assert ("ana-phone", "ana", "login") in found  # what she proved stays


STATE = """{ me {
  devices { id link { method } }
  journey(first: 50) { at type device { id } product { sku } }
  recentlyViewed(first: 50) { product { sku } viewedAt }
  cart { product { sku } }
} }"""


async def test_unlinking_restores_the_state_before_the_link_and_the_same_evidence_does_not_relink(
    demo_graph: Graph, served: Serve
) -> None:
    await add_customers(demo_graph, "ana", "ben")
    await grant(demo_graph, "ana", "personalisation")  # recentlyViewed needs it
    settings = guessing(history_min_link_confidence=0.5)
    async with served(settings, authenticate=as_shop_or_customer) as (app, client):
        await track(app, client, phone_of("ana"))
        # The laptop's visits, without a network: stored, linked to nobody.
        quiet = [{k: v for k, v in e.items() if k != "network"} for e in laptop()]
        await track(app, client, quiet)
        before = await gql(client, STATE, customer="ana")
        counts = await demo_graph.read("MATCH (s:Session) RETURN count(s) AS n")

        await track(app, client, laptop(start=45))  # now on the home network
        linked = await gql(client, STATE, customer="ana")
        profile = await profile_of(
            demo_graph, ProfileKey("ana", browsing=True, min_link_confidence=0.5)
        )

        mutation = "mutation($id: ID!) { unlinkDevice(id: $id) { id link { method } } }"
        undone = await gql(client, mutation, {"id": "laptop"}, customer="ana")
        after = await gql(client, STATE, customer="ana")
        profile_after = await profile_of(
            demo_graph, ProfileKey("ana", browsing=True, min_link_confidence=0.5)
        )

        # Nobody else's device, and no device at all, look the same: not found.
        bens = await gql(client, mutation, {"id": "ana-phone"}, customer="ben")
        ghost = await gql(client, mutation, {"id": "no-such-device"}, customer="ben")
        again = await gql(client, mutation, {"id": "laptop"}, customer="ana")

        # The same evidence again (the laptop still at home, the same products).
        await track(app, client, laptop(start=50))
        still = await gql(client, STATE, customer="ana")

    assert "errors" not in linked, linked
    assert any(d["id"] == "laptop" for d in linked["data"]["me"]["devices"])
    assert linked["data"]["me"] != before["data"]["me"]
    assert {s.sku for s in profile.views} >= set(ANA_LOOKS_AT)

    assert undone["data"]["unlinkDevice"] == {"id": "laptop", "link": None}
    assert after["data"]["me"] == before["data"]["me"]
    assert still["data"]["me"] == before["data"]["me"]
    assert profile_after.views != profile.views
    laptop_views = await demo_graph.read(
        "MATCH (:Device {id: 'laptop'})<-[:ON]-(:Session)-[v:VIEWED]->() RETURN count(v) AS n"
    )
    assert laptop_views == [{"n": 9}]  # the laptop's own data is all still there
    sessions = await demo_graph.read("MATCH (s:Session) RETURN count(s) AS n")
    assert sessions[0]["n"] == counts[0]["n"] + 2  # the two visits sent since, nothing lost

    for refused in (bens, ghost, again):
        assert codes(refused) == ["NOT_FOUND"]
        assert refused["data"]["unlinkDevice"] is None
    assert bens["errors"][0]["message"] == "no device 'ana-phone' is linked to you"
    assert ("ana-phone", "ana", "login") in await links(demo_graph)

    # A new sign-in on it is new evidence: the device is hers again.
    async with served(settings, authenticate=as_shop_or_customer) as (app, client):
        await track(app, client, [login("laptop", "laptop-s99", "ana", 99, network=HOME)])
    assert ("laptop", "ana", "login") in await links(demo_graph)


async def test_the_journey_spans_the_customers_devices_newest_first(
    demo_graph: Graph, served: Serve
) -> None:
    await add_customers(demo_graph, "ana", "ben")
    query = """query($first: Int, $after: String) { me { journey(first: $first, after: $after) {
      at type device { id kind } product { sku name } sessionId cursor } } }"""
    async with served(authenticate=as_shop_or_customer) as (app, client):
        await track(app, client, phone_of("ana", skus=("sku-001",)))
        await track(app, client, laptop(start=10, skus=("sku-001", "sku-002")))
        await track(app, client, [login("laptop", "laptop-s10", "ana", 20)])
        # Ben's phone, and a stranger's device: not Ana's journey.
        await track(app, client, phone_of("ben", network=OTHER_HOME, skus=("sku-050",)))
        await track(app, client, [view("stranger", "x1", "sku-060", 25)])
        everything = await gql(client, query, {"first": 50}, customer="ana")
        first = await gql(client, query, {"first": 2}, customer="ana")
        cursor = first["data"]["me"]["journey"][-1]["cursor"]
        rest = await gql(client, query, {"first": 50, "after": cursor}, customer="ana")
        bad = await gql(client, query, {"first": 2, "after": "nonsense"}, customer="ana")

    steps = everything["data"]["me"]["journey"]
    assert [(s["type"], s["device"]["id"], (s["product"] or {}).get("sku")) for s in steps] == [
        ("LOGIN", "laptop", None),
        ("VIEW", "laptop", "sku-002"),
        ("VIEW", "laptop", "sku-001"),
        ("VIEW", "ana-phone", "sku-001"),
        ("LOGIN", "ana-phone", None),
    ]
    assert steps[1]["product"]["name"] is not None
    assert first["data"]["me"]["journey"] + rest["data"]["me"]["journey"] == steps
    assert codes(bad) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize(("threshold", "linked"), [(0.5, True), (None, False), (1.0, False)])
async def test_the_threshold_is_the_hosts(
    demo_graph: Graph, served: Serve, threshold: float | None, linked: bool
) -> None:
    # None: the default (0.9), over the laptop's 0.85.
    await add_customers(demo_graph, "ana")
    settings = settings_for_tests(linking_probabilistic=True)
    if threshold is not None:
        settings = guessing(linking_min_confidence=threshold)
    async with served(settings, authenticate=as_shop_or_customer) as (app, client):
        await track(app, client, phone_of("ana"))
        await track(app, client, laptop())
    expected = {("laptop", "ana")} if linked else set()
    assert guessed(await links(demo_graph)) == expected


async def test_devices_retention_removed_no_longer_make_a_home_network_public(
    demo_graph: Graph, served: Serve
) -> None:
    # Thirty browsers on the home network two months ago (cleared cookies,
    # guests' phones): more than a public network's devices then, all past the
    # anonymous lifetime now. Once pruned, the household's network is its own.
    await add_customers(demo_graph, "ana")
    settings = guessing(linking_public_network_devices=3)
    two_months_ago = -60 * 24 * 60.0
    async with served(settings, authenticate=as_shop_or_customer) as (app, client):
        old = [
            view(f"old-{i}", f"old-{i}", "sku-009", two_months_ago, network=HOME, userAgent=MAC)
            for i in range(30)
        ]
        assert (await track(app, client, old))["accepted"] == 30
    now = datetime.now(UTC)
    await prune(demo_graph, now - timedelta(days=730), now - timedelta(days=30), now)
    async with served(settings, authenticate=as_shop_or_customer) as (app, client):
        await track(app, client, phone_of("ana"))
        await track(app, client, laptop())
    assert guessed(await links(demo_graph)) == {("laptop", "ana")}


async def test_an_erased_customers_devices_leave_the_networks_they_were_seen_on(
    demo_graph: Graph, served: Serve
) -> None:
    await add_customers(demo_graph, "ana", "ben")
    async with served(authenticate=as_shop_or_customer) as (app, client):
        await track(app, client, phone_of("ana"))
        await track(app, client, phone_of("ben"))
    counted = "MATCH (n:Network) RETURN n.devices AS devices"
    assert [row["devices"] for row in await demo_graph.read(counted)] == [2]
    assert await erase_customer(demo_graph, "ana", TEST_PII_KEY) is not None
    # Ben's phone alone: the network is as busy as the devices still in the graph.
    assert [row["devices"] for row in await demo_graph.read(counted)] == [1]
