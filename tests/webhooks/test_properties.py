"""Property tests: random bodies and headers to every receiver never cause a 500, and nothing
that failed verification is ever stored."""

from __future__ import annotations

import base64

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from hub.models import InboxEvent
from tests.webhooks.helpers import ORG_ID, basic, events_headers, stripe_headers
from tests.webhooks.payloads import outbound_message

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
header_text = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=255, exclude_characters="\x7f"),
    max_size=120,
)
bodies = st.one_of(
    st.binary(max_size=600),
    st.text(max_size=300).map(str.encode),
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers(-(2**63), 2**63 - 1)
        | st.floats()
        | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
        ),
        max_leaves=12,
    ).map(orjson.dumps),
)
HEADER_NAMES = {
    "stripe": ["Stripe-Signature"],
    "events": ["webhook-id", "webhook-timestamp", "webhook-signature"],
    "mixpanel": ["Authorization"],
    "salesforce": ["SOAPAction"],
}


def _rows(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(InboxEvent))


@SETTINGS
@given(
    source=st.sampled_from(sorted(HEADER_NAMES)),
    body=bodies,
    values=st.lists(header_text, min_size=3, max_size=3),
    content_type=st.sampled_from(["application/json", "text/xml", "", "multipart/form-data"]),
)
def test_random_unsigned_requests_never_500_and_store_nothing(
    client, session, source, body, values, content_type
):
    headers = dict(zip(HEADER_NAMES[source], values, strict=False))
    if content_type:
        headers["Content-Type"] = content_type
    response = client.post(f"/webhooks/{source}", data=body, headers=headers)
    assert response.status_code in (400, 401, 413), response.data
    assert response.is_json
    assert _rows(session) == 0


@SETTINGS
@given(body=bodies)
def test_random_bodies_signed_for_stripe_are_200_or_400(client, session, body):
    """With a valid signature the only outcomes are stored (200) or refused (400)."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        expected = {401}  # Stripe signs text: undecodable bytes cannot carry a signature
        headers = {"Stripe-Signature": "t=1,v1=00"}
    else:
        expected = {200, 400}
        headers = stripe_headers(body)
    before = _rows(session)
    response = client.post("/webhooks/stripe", data=body, headers=headers)
    assert response.status_code in expected
    assert _rows(session) == before + (
        1 if response.status_code == 200 and not response.json["duplicate"] else 0
    )


@SETTINGS
@given(body=bodies, msg_id=st.text(min_size=1, max_size=40, alphabet="abcdefghijk_0123456789"))
def test_random_bodies_signed_for_events_are_200_or_400(client, session, body, msg_id):
    before = _rows(session)
    response = client.post("/webhooks/events", data=body, headers=events_headers(body, msg_id))
    assert response.status_code in (200, 400)
    stored = response.status_code == 200 and not response.json["duplicate"]
    assert _rows(session) == before + stored


@SETTINGS
@given(body=bodies)
def test_random_bodies_with_mixpanel_credentials_are_200_or_400(client, session, body):
    response = client.post("/webhooks/mixpanel", data=body, headers=basic())
    assert response.status_code in (200, 400)
    assert response.json["status"] == ("success" if response.status_code == 200 else "failure")


@SETTINGS
@given(
    fields=st.dictionaries(
        st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,20}", fullmatch=True),
        st.one_of(st.none(), st.text(max_size=30)),
        max_size=5,
    ),
    notification_id=st.text(min_size=1, max_size=18, alphabet="0123456789ABCDEFabcdef"),
)
def test_random_salesforce_notifications_are_acked_or_400(client, session, fields, notification_id):
    xml = outbound_message([(notification_id, "Account", fields)], org_id=ORG_ID)
    response = client.post(
        "/webhooks/salesforce", data=xml.encode(), headers={"Content-Type": "text/xml"}
    )
    assert response.status_code in (200, 400)


@SETTINGS
@given(token=st.binary(max_size=60))
def test_random_basic_credentials_are_401(client, session, token):
    header = "Basic " + base64.b64encode(token).decode()
    response = client.post(
        "/webhooks/mixpanel", data=b'{"action": "members"}', headers={"Authorization": header}
    )
    assert response.status_code == 401
    assert _rows(session) == 0
