"""Salesforce Outbound Message envelopes, parsed safely (defusedxml: no DTDs, no entities).

An envelope carries one ``notifications`` element: the sending ``OrganizationId``, the
``ActionId`` of the workflow/flow action, and up to 100 ``Notification`` elements, each with
its own ``Id`` (stable across Salesforce's retries) and one ``sObject`` whose ``xsi:type``
names the object (``sf:Account``) and whose children are the fields the admin chose to send.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"

ACK = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
    b"<soapenv:Body>"
    b'<notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound">'
    b"<Ack>true</Ack>"
    b"</notificationsResponse>"
    b"</soapenv:Body>"
    b"</soapenv:Envelope>"
)
"""The answer that tells Salesforce a message was received (it retries until it gets one)."""


class EnvelopeError(ValueError):
    """The body is not a readable Outbound Message envelope."""


@dataclass(frozen=True)
class Notification:
    id: str
    sobject: str  # Account, Contact, Opportunity, ...
    fields: dict[str, str | None] = field(default_factory=dict)

    @property
    def record_id(self) -> str | None:
        return self.fields.get("Id")


@dataclass(frozen=True)
class Envelope:
    organization_id: str
    action_id: str | None
    notifications: tuple[Notification, ...]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _text(element: Element | None) -> str | None:
    if element is None:
        return None
    if element.get(f"{{{XSI_NS}}}nil") == "true":
        return None
    return (element.text or "").strip()


def _notification(element: Element) -> Notification:
    notification_id = _text(element.find(f"{{{OUTBOUND_NS}}}Id"))
    sobject = element.find(f"{{{OUTBOUND_NS}}}sObject")
    if not notification_id or sobject is None:
        raise EnvelopeError("a Notification needs an Id and an sObject")
    kind = sobject.get(f"{{{XSI_NS}}}type") or ""
    kind = kind.rsplit(":", 1)[-1]
    if not kind:
        raise EnvelopeError("an sObject needs an xsi:type")
    fields = {_local(child.tag): _text(child) for child in sobject}
    return Notification(id=notification_id, sobject=kind, fields=fields)


def parse(body: bytes) -> Envelope:
    """The envelope in ``body``; EnvelopeError when it is malformed or unsafe."""
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError, UnicodeError) as exc:
        raise EnvelopeError(f"unreadable XML: {type(exc).__name__}") from exc
    notifications = root.find(f".//{{{OUTBOUND_NS}}}notifications")
    if notifications is None:
        raise EnvelopeError("no notifications element")
    org = _text(notifications.find(f"{{{OUTBOUND_NS}}}OrganizationId"))
    if not org:
        raise EnvelopeError("no OrganizationId")
    items = tuple(_notification(n) for n in notifications.findall(f"{{{OUTBOUND_NS}}}Notification"))
    if not items:
        raise EnvelopeError("no Notification")
    action = _text(notifications.find(f"{{{OUTBOUND_NS}}}ActionId"))
    return Envelope(organization_id=org, action_id=action, notifications=items)
