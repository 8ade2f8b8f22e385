"""Mixpanel cohort sync messages -> the ``cohorts`` of contacts and accounts.

A member is matched to contacts by ``mixpanel_distinct_id`` (or ``$distinct_id``) and by email
(``email`` or ``$email``), and to an account whose ``mixpanel_group_key`` is its distinct id
(group cohorts). Each match keeps its membership under
``attributes["cohort_membership"]["mixpanel:<cohort id>"] = {"name", "in", "seq", "session"}``
where ``seq`` is the inbox id of the message that set it: a message older than the one
already applied to a member does not change it, so a retried ``add_members`` cannot undo a
later ``remove_members``. ``cohorts`` (what playbook triggers read) lists the names of the
cohorts a contact is in; an account's lists its own and its contacts'.

``members`` carries the whole cohort, in pages (``page_info``) that share a
``mixpanel_session_id``: pages add members as they come, and once every page of the session
has been applied, members that were in the cohort before the session and not in any page are
removed.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson
from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session

from hub.ingest import hooks
from hub.ingest.base import Outcome, insert_ignore
from hub.models import Account, Contact, InboxEvent, SyncState

SOURCE = "mixpanel"
ACTIONS = {"members": True, "add_members": True, "remove_members": False}
MEMBERSHIP = "cohort_membership"
CHUNK = 500


def _str(value: Any) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    return value if isinstance(value, str) and value.strip() else None


def _identities(members: list[Any]) -> list[tuple[str | None, str | None]]:
    """(distinct id, lower-cased email) of each member."""
    out = []
    for member in members:
        if not isinstance(member, dict):
            continue
        distinct = _str(member.get("mixpanel_distinct_id")) or _str(member.get("$distinct_id"))
        email = _str(member.get("email")) or _str(member.get("$email"))
        out.append(
            (distinct[:255] if distinct else None, email.strip().lower()[:255] if email else None)
        )
    return out


def _chunks(values: set[str]) -> list[list[str]]:
    items = sorted(values)
    return [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]


def _targets(
    session: Session, identities: list[tuple[str | None, str | None]]
) -> tuple[dict[int, Contact], dict[int, Account], int]:
    """The contacts and accounts the members are, and how many members matched nothing."""
    ids = {d for d, _ in identities if d}
    emails = {e for _, e in identities if e}
    contacts: dict[int, Contact] = {}
    accounts: dict[int, Account] = {}
    matched: set[str] = set()
    for chunk in _chunks(ids):
        for c in session.scalars(select(Contact).where(Contact.mixpanel_distinct_id.in_(chunk))):
            contacts[c.id] = c
            matched.add(c.mixpanel_distinct_id or "")
        for a in session.scalars(select(Account).where(Account.mixpanel_group_key.in_(chunk))):
            accounts[a.id] = a
            matched.add(a.mixpanel_group_key or "")
    for chunk in _chunks(emails):
        for c in session.scalars(select(Contact).where(Contact.email.in_(chunk))):
            contacts[c.id] = c
            matched.add((c.email or "").lower())
    unmatched = sum(1 for d, e in identities if d not in matched and e not in matched)
    return contacts, accounts, unmatched


def _set(target: Contact | Account, key: str, entry: dict[str, Any]) -> bool:
    """Record a membership change unless a newer one is already applied."""
    attributes = copy.deepcopy(target.attributes or {})
    memberships = attributes.setdefault(MEMBERSHIP, {})
    current = memberships.get(key)
    if current and int(current.get("seq") or 0) > entry["seq"]:
        return False
    memberships[key] = entry
    target.attributes = attributes
    return True


def _names(target: Contact | Account) -> set[str]:
    memberships = (target.attributes or {}).get(MEMBERSHIP, {})
    return {m["name"] for m in memberships.values() if m.get("in") and m.get("name")}


def _refresh_cohorts(session: Session, contacts: list[Contact], account_ids: set[int]) -> None:
    for contact in contacts:
        contact.cohorts = sorted(_names(contact))
        account_ids.add(contact.account_id)
    session.flush()
    for account_id in account_ids:
        account = session.get(Account, account_id)
        if account is None:
            continue
        names = _names(account)
        for contact in session.scalars(select(Contact).where(Contact.account_id == account_id)):
            names |= _names(contact)
        account.cohorts = sorted(names)


def _complete_session(
    session: Session, cohort_id: str, session_id: str, page: int, total: int, seq: int
) -> int | None:
    """Record a page of a full sync; the first seq of the session once all pages are in."""
    stream = f"mixpanel:cohort:{cohort_id}"
    insert_ignore(session, SyncState, {"stream": stream, "state": {}}, "stream")
    row = session.scalar(select(SyncState).where(SyncState.stream == stream).with_for_update())
    state = dict(row.state or {})
    if state.get("session") != session_id:
        state = {"session": session_id, "pages": [], "total": total, "first_seq": seq}
    pages = set(state.get("pages") or []) | {page}
    state["pages"] = sorted(pages)
    state["total"] = total
    state["first_seq"] = min(int(state.get("first_seq") or seq), seq)
    done = len(pages) >= total and not state.get("done")
    state["done"] = bool(state.get("done")) or done
    row.state = state
    row.cursor = session_id
    return state["first_seq"] if done else None


def _remove_stale(session: Session, key: str, session_id: str, first_seq: int) -> list[Any]:
    """Drop members that the completed full sync did not include."""
    changed: list[Any] = []
    for model in (Contact, Account):
        rows = session.scalars(select(model).where(cast(model.attributes, Text).contains(key)))
        for target in rows:
            entry = (target.attributes or {}).get(MEMBERSHIP, {}).get(key)
            if not entry or not entry.get("in") or entry.get("session") == session_id:
                continue
            if int(entry.get("seq") or 0) >= first_seq:
                continue
            _set(target, key, {**entry, "in": False, "seq": first_seq, "session": session_id})
            changed.append(target)
    return changed


def process(session: Session, row: InboxEvent) -> Outcome:
    """Apply one cohort sync message (built-in mapping, then hooks)."""
    doc = orjson.loads(row.body)
    action = doc.get("action")
    params = doc.get("parameters") if isinstance(doc.get("parameters"), dict) else {}
    subscribed = hooks.subscribers(SOURCE, action)
    if action not in ACTIONS and not subscribed:
        return Outcome("ignored", {"reason": f"no handler for action {action!r}"})
    cohort_id = _str(params.get("mixpanel_cohort_id")) or _str(doc.get("cohort_id"))
    if cohort_id is None:
        return Outcome("ignored", {"reason": "no mixpanel_cohort_id"})
    name = _str(params.get("mixpanel_cohort_name")) or _str(doc.get("cohort_name")) or cohort_id
    session_id = _str(params.get("mixpanel_session_id")) or _str(doc.get("mixpanel_session_id"))
    members = params.get("members", doc.get("members")) or []
    members = members if isinstance(members, list) else []
    notes: dict[str, Any] = {"cohort": cohort_id, "members": len(members)}
    if action in ACTIONS:
        key = f"mixpanel:{cohort_id}"
        entry = {"name": name[:255], "in": ACTIONS[action], "seq": row.id, "session": session_id}
        contacts, accounts, unmatched = _targets(session, _identities(members))
        applied = sum(_set(t, key, entry) for t in [*contacts.values(), *accounts.values()])
        touched = list(contacts.values())
        account_ids = set(accounts)
        if action == "members" and session_id:
            info = params.get("page_info") if isinstance(params.get("page_info"), dict) else {}
            total = info.get("total_pages")
            page = info.get("page_count")
            total = total if isinstance(total, int) and total > 0 else 1
            page = page if isinstance(page, int) else 0
            first_seq = _complete_session(session, cohort_id, session_id, page, total, row.id)
            if first_seq is not None:
                removed = _remove_stale(session, key, session_id, first_seq)
                notes["removed"] = len(removed)
                touched += [t for t in removed if isinstance(t, Contact)]
                account_ids |= {t.id for t in removed if isinstance(t, Account)}
        _refresh_cohorts(session, touched, account_ids)
        notes.update({"applied": applied, "unmatched": unmatched})
    ctx = hooks.HookContext(
        session=session,
        source=SOURCE,
        event_type=action,
        event=doc,
        inbox_id=row.id,
        external_id=row.external_id,
    )
    notes["hooks"] = hooks.publish(ctx)
    return Outcome("processed", notes, ctx.followups)
