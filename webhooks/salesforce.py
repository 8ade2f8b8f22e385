"""Salesforce Outbound Messages: a SOAP envelope from the configured organization.

The envelope is parsed with defusedxml (DTDs and entities refused: 400) and accepted only when
its ``OrganizationId`` is the configured org's (401 otherwise). The key is a hash of the
notification ids it carries, which Salesforce keeps across retries; each notification is
applied at most once by ``hub.ingest.salesforce`` even if Salesforce batches them anew.
The answer is the SOAP ``Ack`` Salesforce waits for.
"""

from __future__ import annotations

import hashlib
from typing import Any

from hub.config import Config
from hub.ingest.soap import ACK, EnvelopeError, parse
from webhooks.base import Delivery, Reply, json_failure
from webhooks.inbox import Stored
from webhooks.secrets import Secrets
from webhooks.verify import WebhookError, bad_request, same_org, unauthorized


class SalesforceReceiver:
    source = "salesforce"

    def accept(
        self, body: bytes, headers: Any, secrets: Secrets, config: Config, now: float
    ) -> Delivery:
        if not secrets.salesforce_org_id:
            raise unauthorized("no Salesforce organization id is configured")
        try:
            envelope = parse(body)
        except EnvelopeError as exc:
            raise bad_request(f"not a Salesforce Outbound Message: {exc}") from exc
        if not same_org(envelope.organization_id, secrets.salesforce_org_id):
            raise unauthorized("the message comes from another Salesforce organization")
        ids = sorted(n.id for n in envelope.notifications)
        key = hashlib.sha256("\n".join(ids).encode()).hexdigest()
        kinds = {n.sobject for n in envelope.notifications}
        kind = kinds.pop() if len(kinds) == 1 else "mixed"
        return Delivery(f"notifications:{key}", kind[:128])

    def success(self, delivery: Delivery, stored: Stored) -> Reply:
        return Reply(200, ACK, "text/xml; charset=utf-8")

    def failure(self, error: WebhookError, body: bytes) -> Reply:
        return json_failure(error)


RECEIVER = SalesforceReceiver()
