"""Words and times as operators read them: lock states, refusals, clinic-local times."""

from __future__ import annotations

from datetime import datetime, timedelta

from storage.locks import Lock, Refusal
from storage.policy import Policy
from tui.i18n import _


def local(moment: int, policy: Policy) -> datetime:
    return datetime.fromtimestamp(moment, policy.timezone)


def when(moment: int | None, policy: Policy, now: int) -> str:
    """"10:32" today, "27.11 10:32" on another day, "" for no time."""
    if moment is None:
        return ""
    shown, today = local(moment, policy), local(now, policy)
    if shown.date() == today.date():
        return shown.strftime("%H:%M")
    return shown.strftime("%d.%m %H:%M")


def age_text(age: int | None) -> str:
    return "" if age is None else _("{age} y.").format(age=age)


def lock_state(lock: Lock, policy: Policy, now: int) -> str:
    """The pane's sentence about a lock (C8, C9, C10)."""
    since = when(lock.since, policy, now)
    if lock.mine:
        return _("Your call since {since} — f to finish, a to abort").format(since=since)
    if lock.mine_earlier:
        return _("Locked by you in an earlier session since {since} — a aborts, "
                 "c takes it over").format(since=since)
    if lock.offers_takeover:
        return _("Locked by {operator} since {since} — over {minutes} min, still working; "
                 "c offers a takeover").format(
            operator=lock.operator, since=since, minutes=policy.stale_after // 60)
    alive = _("alive") if lock.alive else _("session gone")
    return _("Locked by {operator} since {since} — {alive}").format(
        operator=lock.operator, since=since, alive=alive)


def refusal_text(refusal: Refusal, policy: Policy, now: int) -> str:
    """Why the row cannot be called now, as one sentence."""
    until = when(refusal.until, policy, now)
    if refusal.reason == "locked" and refusal.lock is not None:
        return lock_state(refusal.lock, policy, now)
    texts = {
        "missing": _("This row no longer exists."),
        "closed": _("This row is already done; it will leave the list."),
        "do-not-call": _("Do not call: the client asked not to be called."),
        "call-back": _("Call back at {until}.").format(until=until),
        "personal-call-back": _("{operator} promised to call back; anyone may call from "
                                "{until}.").format(operator=refusal.operator, until=until),
        "too-soon": _("Not yet: may be called from {until}.").format(until=until),
        "attempt-cap": _("No more attempts: the limit of {count} was reached.").format(
            count=policy.max_attempts),
    }
    return texts.get(refusal.reason, refusal.reason)


def parse_moment(text: str, policy: Policy, now: int) -> int | None:
    """A call-back time typed by the operator: "15:30" (the next such time), "27.11 15:30"
    or "27.11.2026 15:30", in the clinic's time zone. None if it cannot be read."""
    today = local(now, policy)
    parts = text.strip().split()
    try:
        if len(parts) == 1:
            hour, minute = (int(p) for p in parts[0].split(":"))
            moment = today.replace(hour=hour, minute=minute, second=0, microsecond=0)
            if moment.timestamp() <= now:
                moment = moment.replace(day=today.day) + timedelta(days=1)
        elif len(parts) == 2:
            fields = [int(p) for p in parts[0].split(".")]
            hour, minute = (int(p) for p in parts[1].split(":"))
            year = fields[2] if len(fields) == 3 else today.year
            moment = datetime(year, fields[1], fields[0], hour, minute, tzinfo=policy.timezone)
            if len(fields) == 2 and moment.timestamp() < now:
                moment = moment.replace(year=year + 1)
        else:
            return None
    except (ValueError, IndexError):
        return None
    return int(moment.timestamp())
