"""What one pull run carries between pages, and the helpers every stream's apply shares."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.models import Account, Contact
from integrations.salesforce.mapping import FieldMapping
from integrations.salesforce.settings import SalesforceSettings
from integrations.salesforce.state import parse_ts


@dataclass
class PullContext:
    settings: SalesforceSettings
    account_mappings: list[FieldMapping]
    now: datetime
    stats: Counter[str] = field(default_factory=Counter)
    warnings: Counter[str] = field(default_factory=Counter)
    orphans: list[str] = field(default_factory=list)  # contacts whose Account is not here yet
    force: bool = False  # apply even what was applied (records named by an Outbound Message)

    @property
    def renewal_from_opportunities(self) -> bool:
        """Renewal dates come from open renewal Opportunities unless an Account field feeds
        them (then Opportunities only fill a renewal date the Account field leaves empty)."""
        return not any(m.hub == "renewal_date" for m in self.account_mappings)


def applied(target: Account | Contact | None) -> datetime | None:
    """The SystemModstamp last applied to a hub row (kept where the webhook ingest keeps it)."""
    if target is None:
        return None
    kept = (target.attributes or {}).get("salesforce") or {}
    try:
        return parse_ts(kept.get("SystemModstamp"))
    except ValueError:
        return None


def stamped(attributes: dict[str, Any] | None, stamp: datetime | None) -> dict[str, Any]:
    """``attributes`` with ``salesforce.SystemModstamp`` set (a new dict, so it is saved)."""
    out = dict(attributes or {})
    kept = dict(out.get("salesforce") or {})
    if stamp is not None:
        kept["SystemModstamp"] = stamp.isoformat()
    out["salesforce"] = kept
    return out


def fresh(
    stored: datetime | None, record: dict[str, Any], ctx: PullContext
) -> tuple[bool, datetime | None]:
    """Whether ``record`` is newer than what was applied (always, when forced), and its stamp."""
    stamp = parse_ts(record.get("SystemModstamp"))
    return (ctx.force or stored is None or stamp is None or stamp > stored), stamp


def account_ids(session: Session, salesforce_ids: Iterable[str | None]) -> dict[str, int]:
    wanted = sorted({i for i in salesforce_ids if i})
    if not wanted:
        return {}
    rows = session.execute(
        select(Account.salesforce_id, Account.id).where(Account.salesforce_id.in_(wanted))
    )
    return {sf_id: account_id for sf_id, account_id in rows}
