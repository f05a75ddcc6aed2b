"""Words, times and numbers as operators read them: lock states, refusals, clinic-local times.

Times are shown in the clinic's time zone (policy.timezone). In the narrow
columns (the rows' "due" column, the pane's history lines) :func:`when` keeps
the compact "10:32" / "27.11 10:32", the same form the operator types for a
call-back; sentences and dialogs use :func:`moment_text`, in the language's
conventions through Babel (CLDR): «27 ноября, 10:30», "27 Nov, 10:30".

Babel is imported by the functions that use it, when first called: the list
picker, the first screen, shows no date, and loading Babel's modules would
delay its first paint (docs/performance.md).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from rich.cells import cell_len, set_cell_size

from storage.phones import split_extension
from storage.policy import Policy
from tui.i18n import _, babel_locale, current_language, ngettext
from tui.safe_text import safe_text

if TYPE_CHECKING:  # the lock protocol's module is loaded when a list is opened, not at start
    from storage.locks import Lock, Refusal

# A day of this year in a sentence: the full month name in Russian («27 ноября»;
# CLDR's short one is «нояб.»), the short one in English ("27 Nov").
DAY_SKELETON = {"ru": "MMMMd", "en": "MMMd"}


def local(moment: int, policy: Policy) -> datetime:
    return datetime.fromtimestamp(moment, policy.timezone)


def _tidy(text: str) -> str:
    """CLDR's narrow no-break space (U+202F, «2026 г.») is missing from console fonts."""
    return text.replace("\u202f", "\u00a0")


def clock_text(moment: datetime) -> str:
    """The time of day, 24-hour: "10:30"."""
    from babel.dates import format_skeleton

    return _tidy(format_skeleton("Hm", moment, locale=babel_locale()))


def day_text(day: date | datetime, *, year: bool = False) -> str:
    """«27 ноября», "27 Nov"; with ``year`` «27 ноября 2026 г.», "27 November 2026"."""
    from babel.dates import format_date, format_skeleton

    locale = babel_locale()
    if year:
        return _tidy(format_date(day, "long", locale=locale))
    skeleton = DAY_SKELETON.get(current_language(), "MMMd")
    return _tidy(format_skeleton(skeleton, day, locale=locale))


def weekday_text(day: date | datetime) -> str:
    """A day with its weekday: "Fri 27 Nov", «пт, 27 нояб.»."""
    from babel.dates import format_skeleton

    return _tidy(format_skeleton("MMMEd", day, locale=babel_locale()))


def _glue(day: str, clock: str) -> str:
    """A date and a time joined as the language does ("{1}, {0}": «27 ноября, 10:30»)."""
    pattern = str(babel_locale().datetime_formats["medium"])
    return pattern.replace("{1}", day).replace("{0}", clock)


def moment_text(moment: int | None, policy: Policy, now: int) -> str:
    """ "10:30" today, «27 ноября, 10:30» / "27 Nov, 10:30" another day ("" for no time).

    A day in another year shows the year as well.
    """
    if moment is None:
        return ""
    shown, today = local(moment, policy), local(now, policy)
    if shown.date() == today.date():
        return clock_text(shown)
    return _glue(day_text(shown, year=shown.year != today.year), clock_text(shown))


def full_time(moment: int | None, policy: Policy) -> str:
    """A date and time in a list of history: «27.11.2026, 10:30», "27/11/2026, 10:30"."""
    if moment is None:
        return ""
    from babel.dates import format_skeleton

    shown = local(moment, policy)
    day = _tidy(format_skeleton("yMd", shown, locale=babel_locale()))
    return _glue(day, clock_text(shown))


def birth_date_text(text: str | None) -> str:
    """A birth date stored as "1984-03-15": «15 марта 1984 г.» ("" for none)."""
    if not text:
        return ""
    try:
        return day_text(date.fromisoformat(text), year=True)
    except ValueError:
        return text  # written some other way: shown as it is


def status_text(status: str) -> str:
    """An appointment status of the default policy in words; a clinic's own as it is."""
    words = {
        "unconfirmed": _("unconfirmed"),
        "left message": _("left message"),
        "confirmed": _("confirmed"),
        "cancelled": _("cancelled"),
    }
    return words.get(status, status)


def task_kind_text(kind: str) -> str:
    """A task kind of the default policy in words; a clinic's own as it is."""
    words = {"recall": _("recall"), "reminder": _("reminder"), "follow-up": _("follow-up")}
    return words.get(kind, kind)


def when(moment: int | None, policy: Policy, now: int) -> str:
    """Compact, for narrow columns: "10:32" today, "27.11 10:32" on another day, "" for none."""
    if moment is None:
        return ""
    shown, today = local(moment, policy), local(now, policy)
    if shown.date() == today.date():
        return shown.strftime("%H:%M")
    return shown.strftime("%d.%m %H:%M")


def duration_text(seconds: int) -> str:
    """A policy duration in words: "45 s" below a minute, "15 min" above."""
    if seconds < 60:
        return _("{count} s").format(count=seconds)
    return _("{count} min").format(count=seconds // 60)


def age_text(age: int | None) -> str:
    if age is None:
        return ""
    return ngettext("{age} y.", "{age} y.", age).format(age=age)


def lock_place(lock: Lock) -> str:
    """Where the lock's session runs, as HOST/TTY ("clinic/pts/3"); "" when unknown."""
    terminal = lock.tty.removeprefix("/dev/")
    return safe_text("/".join(part for part in (lock.host, terminal) if part))


def lock_state(lock: Lock, policy: Policy, now: int) -> str:
    """The pane's sentence about a lock (C8, C9, C10)."""
    since = moment_text(lock.since, policy, now)
    if lock.mine:
        return _("Your call since {since} — f to finish, a to abort").format(since=since)
    # The keys before the times and places: the line is cut at the screen's edge (80
    # columns), and a call left open yesterday ("since 27.11 10:30") cut "c takes it over".
    if lock.mine_earlier:
        return _(
            "Locked by you in an earlier session — a aborts, c takes it over (since {since})"
        ).format(since=since)
    if lock.mine_elsewhere:
        # A session still beating: its window is open, or was closed so abruptly (killed, the
        # machine gone) that it could not end its session, and beats no more for alive_for.
        return _(
            "Your call in another window, open or closed — c asks to move it here "
            "(since {since}, on {place})"
        ).format(since=since, place=lock_place(lock))
    if lock.offers_takeover:
        return _(
            "Locked by {operator} — over {duration}, still working; c offers a takeover "
            "(since {since})"
        ).format(
            operator=safe_text(lock.operator),
            since=since,
            duration=duration_text(policy.stale_after),
        )
    alive = _("alive") if lock.alive else _("session gone")
    return _("Locked by {operator} since {since} — {alive}").format(
        operator=safe_text(lock.operator), since=since, alive=alive
    )


def refusal_text(refusal: Refusal, policy: Policy, now: int) -> str:
    """Why the row cannot be called now, as one sentence."""
    until = moment_text(refusal.until, policy, now)
    if refusal.reason == "locked" and refusal.lock is not None:
        return lock_state(refusal.lock, policy, now)
    texts = {
        "missing": _("This row no longer exists."),
        "closed": _("This row is already done; it will leave the list."),
        "do-not-call": _("Do not call: the client asked not to be called."),
        "call-back": _("Call back at {until}.").format(until=until),
        "personal-call-back": _(
            "{operator} promised to call back; anyone may call from {until}."
        ).format(operator=safe_text(refusal.operator or ""), until=until),
        "too-soon": _("Not yet: may be called from {until}.").format(until=until),
        "attempt-cap": _("No more attempts: the limit of {count} was reached.").format(
            count=policy.max_attempts
        ),
    }
    return texts.get(refusal.reason, refusal.reason)


def parse_moment(text: str, policy: Policy, now: int) -> int | None:
    """A call-back time typed by the operator: "15:30" (the next such time), "27.11 15:30"
    or "27.11.2026 15:30", in the clinic's time zone; "15.30" for "15:30" too, as Russians
    often write it. None if it cannot be read."""
    today = local(now, policy)
    parts = text.strip().split()
    try:
        if len(parts) == 1:
            if "." in parts[0] and _could_be_a_date(parts[0]):
                return None  # "05.12": the 5th of December or 05:12? Asked again, not guessed
            hour, minute = _clock(parts[0])
            moment = today.replace(hour=hour, minute=minute, second=0, microsecond=0)
            if moment.timestamp() <= now:
                moment = moment.replace(day=today.day) + timedelta(days=1)
        elif len(parts) == 2:
            fields = [int(p) for p in parts[0].split(".")]
            hour, minute = _clock(parts[1])
            year = fields[2] if len(fields) == 3 else today.year
            moment = datetime(year, fields[1], fields[0], hour, minute, tzinfo=policy.timezone)
            if len(fields) == 2 and moment.timestamp() < now:
                moment = moment.replace(year=year + 1)
        else:
            return None
    except (ValueError, IndexError):
        return None
    return int(moment.timestamp())


def _clock(text: str) -> tuple[int, int]:
    """Hour and minute of "15:30" or "15.30"; ValueError if ``text`` is neither."""
    hour, minute = text.replace(".", ":", 1).split(":")
    return int(hour), int(minute)


def _could_be_a_date(text: str) -> bool:
    """Whether "DD.MM" ``text`` names a day of the year ("05.12"), unlike "15.30"."""
    day, _dot, month = text.partition(".")
    try:
        date(2024, int(month), int(day))  # a leap year: "29.02" is a date too
    except ValueError:
        return False
    return True


def phone_text(written: str) -> str:
    """A stored number as operators read it: the number, then "ext. 12" to ask for once answered."""
    number, extension = split_extension(written)
    if not extension:
        return number
    return _("{number} ext. {extension}").format(number=number, extension=extension)


def fit(text: str, width: int) -> str:
    """``text`` in at most ``width`` cells, a cut one ending in "…": a column that just
    crops shows a cut name or number as if it were whole."""
    if cell_len(text) <= width:
        return text
    if width < 1:
        return ""
    return set_cell_size(text, width - 1) + "…"


def phone_in_column(phone: str, width: int) -> str:
    """A number in a column ``width`` cells wide: as written if it fits, else without its
    spaces ("+7 (916) 123-45-67" is 18: "+7(916)123-45-67", every digit kept), else cut
    with "…", never silently one digit short."""
    if cell_len(phone) <= width:
        return phone
    return fit(phone.replace(" ", ""), width)


def extension_text(extension: str) -> str:
    """ "ext. 12": the extension to ask for, after the number the exchange dials."""
    return _("ext. {extension}").format(extension=extension)


def continuing(sentence: str) -> str:
    """``sentence`` continuing another after its colon ("Not saved: the client …"): its
    first word in lower case when that is an ordinary word ("The", "Клиент"); a name such
    as "PostgreSQL", "Clinic.db" or a quoted value keeps its capitals."""
    first = sentence.split(" ", 1)[0]
    if first.isalpha() and first.istitle():
        return sentence[0].lower() + sentence[1:]
    return sentence
