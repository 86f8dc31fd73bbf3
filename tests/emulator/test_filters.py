"""List filters per value type (with negation and defaults), relationship filters, pagination."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from reconciler.emulator import Emulator

from .conftest import acc, con, error, opp

pytestmark = pytest.mark.anyio


async def names(api: httpx.AsyncClient, params: Any, path: str = "/v1/opportunities") -> set[str]:
    response = await api.get(path, params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["totalCount"] == len(body["data"])  # all demo results fit on one page
    return {r["id"] for r in body["data"]}


def opps(*keys: str) -> set[str]:
    return {opp(k) for k in keys}


FILTERS: list[tuple[dict[str, str], set[str]]] = [
    ({"$name[equal]": "acme renewal 2027"}, opps("acme-renewal-2027")),
    ({"$name": "Acme Renewal 2027"}, opps("acme-renewal-2027")),  # default operator: equal
    ({"$name[startsWith]": "Acme UK"}, opps("acme-uk-pilot", "acme-uk-renewal")),
    (
        {"$amount[greaterThanOrEqual]": "340000"},
        opps("umbrella-research", "hooli-enterprise", "hooli-renewal"),
    ),
    ({"$amount[greaterThan]": "340000"}, opps("hooli-enterprise", "hooli-renewal")),
    ({"$amount[lessThan]": "10000"}, opps("globex-training")),
    ({"$amount[lessThanOrEqual]": "8000"}, opps("globex-training")),
    ({"$amount[equal]": "45000.5"}, opps("acme-expansion")),
    (
        {"$amount[greaterThan]": "300000", "$amount[-greaterThan]": "500000"},
        opps("umbrella-research", "hooli-renewal"),
    ),
    ({"$closeDate[lessThan]": "2025-12-01T00:00:00Z"}, opps("globex-training", "hooli-churn-risk")),
    ({"$closeDate[equal]": "2025-12-15T01:00:00+01:00"}, opps("globex-analytics")),
    ({"strategic": "true"}, opps("acme-renewal-2027", "globex-analytics", "hooli-enterprise")),
    ({"region[equal]": "emea"}, opps("acme-uk-pilot", "acme-uk-renewal")),
    ({"$stage": "Closed Won"}, opps("globex-analytics")),
    ({"legalEmail[contains]": "INITECH"}, opps("initech-platform")),
    ({"billingEmails": "ap@acme"}, opps("acme-expansion")),  # default operator: contains
    ({"supportPhones[contains]": "202-555-0188"}, opps("umbrella-security")),
    ({"phone[contains]": "+442079460958"}, opps("acme-uk-pilot")),
    ({"docsUrl[contains]": "initech.example/docs"}, opps("initech-platform")),
    ({"signatory[equal]": "alice abernathy"}, opps("umbrella-research")),
    ({"signatory[startsWith]": "Ali"}, opps("umbrella-research")),
    ({"shippingAddress[equal]": "Raccoon City"}, opps("umbrella-research")),
    ({"shippingAddress[startsWith]": ""}, opps("umbrella-research")),
    ({"twitter[startsWith]": "https://x.com/"}, opps("hooli-enterprise")),
    ({"competitor[startsWith]": ""}, opps("globex-training")),
    ({"$account": acc("acme-uk")}, opps("acme-uk-pilot", "acme-uk-renewal")),
    ({"$account[contains]": acc("acme-uk")}, opps("acme-uk-pilot", "acme-uk-renewal")),
    ({"$contact": con("monica@hooli.example")}, opps("hooli-enterprise")),
    ({"$evaluator[equal]": con("monica@hooli.example")}, opps("hooli-enterprise")),
]


@pytest.mark.parametrize(("params", "expected"), FILTERS)
async def test_filter(api: httpx.AsyncClient, params: dict[str, str], expected: set[str]) -> None:
    assert await names(api, params) == expected


async def test_negation_is_the_complement(api: httpx.AsyncClient) -> None:
    everything = await names(api, {})
    for key, value in [
        ("$name", "Acme renewal 2027"),
        ("$account", acc("hooli")),
        ("$amount[{}greaterThan]", "100000"),
        ("strategic", "true"),
        ("legalEmail[{}contains]", "initech"),
    ]:
        positive_key = key.format("") if "{" in key else f"{key}[equal]"
        negative_key = key.format("-") if "{" in key else f"{key}[-equal]"
        positive = await names(api, {positive_key: value})
        negative = await names(api, {negative_key: value})
        assert positive
        assert negative
        assert positive | negative == everything, key
        assert not positive & negative, key


async def test_filters_on_accounts_and_contacts(api: httpx.AsyncClient) -> None:
    accounts = await names(api, {"$name": "Acme Corp"}, "/v1/accounts")
    assert accounts == {acc("acme"), acc("acme-uk")}  # same name, two accounts
    assert await names(api, {"$website[contains]": "acme.co.uk"}, "/v1/accounts") == {
        acc("acme-uk")
    }
    assert await names(api, {"$email[contains]": "alex@acme.com"}, "/v1/contacts") == {
        con("alex@acme.com")
    }
    assert await names(api, {"$name[startsWith]": "Bill"}, "/v1/contacts") == {
        con("bill@initech.example")
    }
    assert await names(api, {"$account": acc("acme-uk")}, "/v1/contacts") == {
        con("oliver@acme.co.uk")
    }
    assert len(await names(api, {"doNotContact": "false"}, "/v1/contacts")) == 12
    assert await names(api, {"$opportunity": opp("acme-uk-pilot")}, "/v1/accounts") == {
        acc("acme-uk")
    }


async def test_percent_encoded_keys_are_decoded(api: httpx.AsyncClient) -> None:
    response = await api.get("/v1/opportunities?%24name%5Bequal%5D=Hooli%20renewal")
    assert [r["id"] for r in response.json()["data"]] == [opp("hooli-renewal")]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("bogus=1", "unknown_field"),
        ("$name[like]=x", "invalid_filter"),
        ("$name[contains]=x", "invalid_filter"),
        ("$amount[startsWith]=1", "invalid_filter"),
        ("$amount=abc", "invalid_filter"),
        ("$closeDate[lessThan]=2026-01-01", "invalid_filter"),
        ("strategic=maybe", "invalid_filter"),
        ("products[equal]=Platform", "invalid_filter"),
        ("$aiSummary[equal]=x", "invalid_filter"),
        ("legalEmail[equal]=x", "invalid_filter"),
        ("region=Mars", "invalid_filter"),
        ("$stage=Negotiation", "ambiguous_stage_label"),
        ("$pipeline=Sales", "unknown_pipeline"),
        ("$account[greaterThan]=acc_x", "invalid_filter"),
        ("limit=0", "invalid_parameter"),
        ("limit=26", "invalid_parameter"),
        ("offset=-1", "invalid_parameter"),
        ("status=deleted", "invalid_parameter"),
    ],
)
async def test_bad_filters_are_400(api: httpx.AsyncClient, query: str, code: str) -> None:
    response = await api.get(f"/v1/opportunities?{query}")
    assert response.status_code == 400, response.text
    assert error(response)["type"] == "bad_request"
    assert error(response)["code"] == code


async def test_pipeline_filter_by_id_and_stage_plus_pipeline(api: httpx.AsyncClient) -> None:
    definitions = (await api.get("/v1/opportunities/definitions")).json()["fieldDefinitions"]
    pipelines = {
        o["label"]: o["id"] for o in definitions["$pipeline"]["typeConfiguration"]["options"]
    }
    renewals = await names(api, {"$pipeline": pipelines["Renewals"]})
    assert renewals == opps(
        "hooli-renewal", "hooli-churn-risk", "globex-renewal", "acme-uk-renewal"
    )
    sales_negotiation = next(
        o["id"]
        for o in definitions["$stage"]["typeConfiguration"]["options"]
        if o["label"] == "Negotiation" and o["parentId"] == pipelines["Sales"]
    )
    assert await names(api, {"$stage": sales_negotiation}) == opps(
        "umbrella-research", "hooli-enterprise"
    )
    assert (
        await names(api, {"$stage": sales_negotiation, "$pipeline": pipelines["Renewals"]}) == set()
    )
    two = await api.get(
        "/v1/opportunities",
        params=[("$pipeline", pipelines["Sales"]), ("$pipeline", pipelines["Renewals"])],
    )
    assert two.status_code == 400


async def test_pagination_total_count_and_order(api: httpx.AsyncClient, emu: Emulator) -> None:
    emu.seed_bulk(opportunities=60)
    seen: list[str] = []
    offset = 0
    while True:
        page = (await api.get("/v1/opportunities", params={"limit": 25, "offset": offset})).json()
        assert page["totalCount"] == 77
        seen += [r["id"] for r in page["data"]]
        if len(page["data"]) < 25:
            break
        offset += 25
    assert len(seen) == len(set(seen)) == 77
    first = (await api.get("/v1/opportunities", params={"limit": 1})).json()
    assert first["data"][0]["id"] == seen[0]
    default = (await api.get("/v1/opportunities")).json()
    assert len(default["data"]) == 25
    beyond = (await api.get("/v1/opportunities", params={"offset": 500})).json()
    assert beyond["data"] == []
    assert beyond["totalCount"] == 77
    filtered = (
        await api.get("/v1/opportunities", params={"$name[startsWith]": "Bulk", "limit": 5})
    ).json()
    assert filtered["totalCount"] == 60
    assert len(filtered["data"]) == 5


async def test_members_list(api: httpx.AsyncClient) -> None:
    page = (await api.get("/v1/members", params={"limit": 2, "offset": 4})).json()
    assert page["totalCount"] == 5
    assert len(page["data"]) == 1
    found = (await api.get("/v1/members", params={"$email[contains]": "MEI@"})).json()
    assert [m["fields"]["$email"]["value"] for m in found["data"]] == ["mei@acme-sales.example"]
