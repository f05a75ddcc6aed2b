"""The clinic's policy (``policy.toml``): read once at start into frozen dataclasses.

A policy file is merged over :data:`DEFAULTS` key by key; an ``[[outcomes]]``
list replaces the default outcomes whole. Every problem is reported as a
:class:`PolicyError` naming the file, the key and what was expected.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from storage.admin_log import TARGETS as LOG_TARGETS
from storage.admin_log import LogTarget
from storage.engine import holds_password, is_server_address
from storage.errors import BadInput
from storage.i18n import N_, _
from storage.names import control_character

# The built-in defaults, identical to the shipped policy.toml (a test keeps them equal).
DEFAULTS: dict[str, Any] = {
    "language": "en",
    "timezone": "Europe/Moscow",
    "database": {"path": "/var/lib/ringround/clinic.db"},
    "locks": {"stale_after": "15m"},
    "sessions": {"heartbeat_every": "20s", "alive_for": "60s"},
    "confirmation": {
        "window": {"from_days": 1, "to_days": 1, "skip_weekends": True},
        "statuses": ["unconfirmed", "left message", "confirmed", "cancelled"],
        "open_statuses": ["unconfirmed", "left message"],
        "confirmed_status": "confirmed",
    },
    "calls": {
        "max_attempts": 5,
        "min_gap": "30m",
        "hours": "09:00-20:00",
        "personal_callback_grace": "30m",
    },
    "tasks": {"callable": ["recall", "reminder", "follow-up"]},
    "phones": {
        "country_code": "7",
        "trunk_prefix": "8",
        "national_length": 10,
        "international_prefix": "810",
    },
    "telephony": {
        "enabled": False,
        "backend": "asterisk-ami",
        "host": "127.0.0.1",
        "port": 5038,
        "username": "ringround",
        "secret_file": "/etc/ringround/ami.secret",
        "context": "from-internal",
        "ring_timeout": "30s",
        "dial_prefix": "",
        "extensions": {"alice": "PJSIP/101"},
    },
    "outcomes": [
        {
            "code": "confirmed",
            "label": {"en": "Confirmed", "ru": "Подтверждено"},
            "closes": True,
            "completes": True,
            "failed": False,
        },
        {
            "code": "no-answer",
            "label": {"en": "No answer", "ru": "Не отвечает"},
            "retry_after": "1h",
            "failed": True,
        },
        {
            "code": "busy",
            "label": {"en": "Busy", "ru": "Занято"},
            "retry_after": "15m",
            "failed": True,
        },
        {
            "code": "left-message",
            "label": {"en": "Left a message", "ru": "Оставлено сообщение"},
            "appointment_status": "left message",
            "retry_after": "2h",
            "failed": True,
        },
        {
            "code": "call-back",
            "label": {"en": "Call back later", "ru": "Перезвонить позже"},
            "asks_callback": True,
            "failed": False,
        },
        {
            "code": "cancels",
            "label": {"en": "Client cancels", "ru": "Клиент отменяет"},
            "closes": True,
            "completes": True,
            "appointment_status": "cancelled",
            "failed": False,
        },
        {
            "code": "wrong-number",
            "label": {"en": "Wrong number", "ru": "Неверный номер"},
            "closes": True,
            "completes": False,
            "failed": False,
        },
        {
            "code": "do-not-call",
            "label": {"en": "Do not call", "ru": "Не звонить"},
            "closes": True,
            "completes": False,
            "do_not_call": True,
            "failed": False,
        },
    ],
    "security": {"allow_operator_override": False, "supervisors": ["root"]},
    "log": {
        "to": "syslog",
        "syslog_socket": "/dev/log",
        "file": "/var/log/ringround/ringround.log",
        "max_mb": 10,
        "keep": 5,
    },
}

LANGUAGES = ("en", "ru")


class PolicyError(BadInput):
    """The policy file cannot be used; the message is one sentence for people."""


@dataclass(frozen=True)
class Window:
    from_days: int
    to_days: int
    skip_weekends: bool


@dataclass(frozen=True)
class Hours:
    start: time
    end: time | None  # None means 24:00

    def contains(self, moment: datetime) -> bool:
        clock = moment.timetz().replace(tzinfo=None)
        return self.start <= clock and (self.end is None or clock < self.end)

    def __str__(self) -> str:
        end = "24:00" if self.end is None else self.end.strftime("%H:%M")
        return f"{self.start.strftime('%H:%M')}-{end}"


@dataclass(frozen=True)
class Outcome:
    code: str
    label_en: str
    label_ru: str
    closes: bool
    completes: bool
    appointment_status: str | None
    retry_after: int | None  # seconds
    asks_callback: bool
    do_not_call: bool
    failed: bool

    def label(self, language: str) -> str:
        return self.label_ru if language == "ru" else self.label_en


@dataclass(frozen=True)
class PhoneRules:
    """How the clinic's phone numbers are written, to compare them (``[phones]``)."""

    country_code: str  # digits, e.g. "7"
    trunk_prefix: str  # digits dialled before a national number, e.g. "8"; may be empty
    national_length: int  # digits of a national number (10 in Russia); 0: any length
    international_prefix: str  # dialled before a foreign number besides "00" ("810" in Russia)


@dataclass(frozen=True)
class TelephonyPolicy:
    enabled: bool
    backend: str
    host: str
    port: int
    username: str
    secret_file: str
    context: str
    ring_timeout: int  # seconds
    dial_prefix: str
    extensions: Mapping[str, str]


BUILT_IN = N_("built-in defaults")  # the source of the policy when no file is used


@dataclass(frozen=True)
class Policy:
    source: str  # the file it came from, or BUILT_IN
    language: str
    # The policy file sets ``language``; when it does not, the operator's LANG or
    # LC_MESSAGES chooses (tui.i18n.choose_language), since ``language`` then only
    # holds the default.
    language_given: bool
    timezone: ZoneInfo
    database_path: str
    stale_after: int  # seconds
    heartbeat_every: int
    alive_for: int
    window: Window
    statuses: tuple[str, ...]
    open_statuses: tuple[str, ...]
    confirmed_status: str
    max_attempts: int
    min_gap: int
    hours: Hours
    personal_callback_grace: int
    callable_task_kinds: tuple[str, ...]
    phones: PhoneRules
    telephony: TelephonyPolicy
    outcomes: tuple[Outcome, ...]
    allow_operator_override: bool
    supervisors: tuple[str, ...]
    log: LogTarget

    @property
    def shown_source(self) -> str:
        """The policy's source as people read it: the file, or "built-in defaults" translated."""
        return _(BUILT_IN) if self.source == BUILT_IN else self.source

    def outcome(self, code: str) -> Outcome:
        for outcome in self.outcomes:
            if outcome.code == code:
                return outcome
        raise KeyError(code)


_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

# -- bounds and relations --------------------------------------------------------------------
# Every number, duration and day count has sane bounds: a value outside them is a
# typo, or would overflow the date arithmetic at start ("99999999999999999999d"),
# and is refused like any other mistake. Durations are in seconds. Outcomes'
# keys are listed as "outcomes.KEY". policy.toml and the README say the same.
MINUTE, HOUR, DAY = 60, 3600, 86400
LIMITS: dict[str, tuple[int, int]] = {
    "locks.stale_after": (MINUTE, DAY),
    "sessions.heartbeat_every": (1, 10 * MINUTE),
    "sessions.alive_for": (2, HOUR),
    "confirmation.window.from_days": (0, 365),
    "confirmation.window.to_days": (0, 365),
    "calls.max_attempts": (1, 100),
    "calls.min_gap": (1, 30 * DAY),
    "calls.personal_callback_grace": (1, 30 * DAY),
    "outcomes.retry_after": (1, 30 * DAY),
    "telephony.port": (1, 65535),
    "telephony.ring_timeout": (1, 10 * MINUTE),
    "log.max_mb": (1, 1000),
    "log.keep": (1, 100),
}


def duration_text(seconds: int) -> str:
    """Seconds written as policy.toml writes them, in the largest whole unit: "15m", "1d"."""
    for unit in ("d", "h", "m"):
        if seconds % _UNIT_SECONDS[unit] == 0:
            return f"{seconds // _UNIT_SECONDS[unit]}{unit}"
    return f"{seconds}s"


def _check_relations(policy: Policy, readers: Mapping[str, _Reader]) -> None:
    """What must hold between settings for the app to work as they say.

    - sessions.alive_for >= 2 × heartbeat_every: one late heartbeat (a busy disk)
      must not make a working operator's session count as gone, which would
      remove its live locks;
    - locks.stale_after >= sessions.alive_for: a lock is not stale before its
      session could even be seen as gone;
    - telephony.ring_timeout < locks.stale_after: a row is not offered for
      takeover while the operator's phone is still ringing for it.
    (window.to_days >= from_days is checked where it is read.)
    """
    sessions, locks, telephony = readers["sessions"], readers["locks"], readers["telephony"]
    if policy.alive_for < 2 * policy.heartbeat_every:
        raise sessions.fail(
            "alive_for",
            _(
                "at least twice sessions.heartbeat_every ({every}), so that one late heartbeat "
                "does not make a working session count as gone"
            ).format(every=duration_text(policy.heartbeat_every)),
        )
    if policy.stale_after < policy.alive_for:
        raise locks.fail(
            "stale_after",
            _("at least sessions.alive_for ({alive})").format(
                alive=duration_text(policy.alive_for)
            ),
        )
    if policy.telephony.ring_timeout >= policy.stale_after:
        raise telephony.fail(
            "ring_timeout",
            _("shorter than locks.stale_after ({stale})").format(
                stale=duration_text(policy.stale_after)
            ),
        )


_HOURS = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


def parse_duration(text: str) -> int:
    """Seconds in a duration such as "30s", "15m", "2h" or "1d"; ValueError otherwise."""
    match = _DURATION.match(text)
    if match is None or int(match.group(1)) == 0:
        raise ValueError(text)
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def toml_text(value: object) -> str:
    """A value of a policy file written as in the file: true, 5, '15m', [...], { key = ... }.

    Texts keep Python's quoting, which is TOML's literal string and shows a control
    character as an escape, never as itself.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(toml_text(item) for item in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {toml_text(v)}" for k, v in value.items()) + " }"
    if isinstance(value, date | time):  # a datetime is a date too
        return value.isoformat()
    return repr(value)


class _Reader:
    """Typed access to one merged policy table, with errors that name file and key."""

    def __init__(self, source: str, data: Mapping[str, Any], prefix: str = "") -> None:
        self.source = source
        self.data = data
        self.prefix = prefix

    def limits(self, key: str) -> tuple[int, int] | None:
        """The bounds of ``key`` in :data:`LIMITS` (an outcome's keys as "outcomes.KEY")."""
        return LIMITS.get(re.sub(r"\[\d+\]", "", self.prefix + key))

    def fail(self, key: str, expected: str) -> PolicyError:
        if key not in self.data:
            return PolicyError(
                _("{source}: {key} is missing; it should be {expected}.").format(
                    source=self.source, key=self.prefix + key, expected=expected
                )
            )
        return PolicyError(
            _("{source}: {key} should be {expected}, not {value}.").format(
                source=self.source,
                key=self.prefix + key,
                expected=expected,
                value=toml_text(self.data[key]),
            )
        )

    def table(self, key: str) -> _Reader:
        value = self.data.get(key)
        if not isinstance(value, Mapping):
            raise self.fail(key, _("a table"))
        return _Reader(self.source, value, f"{self.prefix}{key}.")

    def string(self, key: str, *, empty: bool = False) -> str:
        value = self.data.get(key)
        if not isinstance(value, str) or (not empty and not value.strip()):
            raise self.fail(key, _("a text") if empty else _("a non-empty text"))
        if control_character(value) is not None:  # shown on screens (storage/names.py)
            raise self.fail(key, _("a text without control characters"))
        return value

    def full_path(self, key: str, expected: str) -> str:
        """A file's full path: each operator starts ringround in a folder of their own, so a
        relative one would name a different file for each."""
        value = self.string(key)
        if not value.startswith("/"):
            raise self.fail(key, expected)
        return value

    def flag(self, key: str) -> bool:
        value = self.data.get(key)
        if not isinstance(value, bool):
            raise self.fail(key, _("true or false"))
        return value

    def integer(self, key: str, minimum: int) -> int:
        value = self.data.get(key)
        limits = self.limits(key)
        if limits is not None:
            minimum = max(minimum, limits[0])
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or value < minimum
            or (limits is not None and value > limits[1])
        ):
            if limits is None:
                raise self.fail(
                    key, _("a whole number of at least {minimum}").format(minimum=minimum)
                )
            raise self.fail(
                key,
                _("a whole number from {minimum} to {maximum}").format(
                    minimum=minimum, maximum=limits[1]
                ),
            )
        return value

    def duration(self, key: str) -> int:
        value = self.data.get(key)
        limits = self.limits(key)
        try:
            if not isinstance(value, str):
                raise ValueError(value)
            seconds = parse_duration(value)
        except ValueError:
            raise self.fail(key, _('a positive duration such as "30s", "15m" or "2h"')) from None
        if limits is not None and not limits[0] <= seconds <= limits[1]:
            raise self.fail(
                key,
                _("a duration from {shortest} to {longest}").format(
                    shortest=duration_text(limits[0]), longest=duration_text(limits[1])
                ),
            )
        return seconds

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(key, _("a list of texts"))
        if any(control_character(v) is not None for v in value):
            raise self.fail(key, _("a list of texts without control characters"))
        return tuple(value)

    def check_keys(self, allowed: Mapping[str, Any]) -> None:
        for key in self.data:
            if key not in allowed:
                known = ", ".join(sorted(allowed))
                raise PolicyError(
                    _("{source}: unknown key {key} (known keys here: {known}).").format(
                        source=self.source, key=self.prefix + key, known=known
                    )
                )


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        old = merged.get(key)
        if isinstance(old, Mapping) and isinstance(value, Mapping) and key != "extensions":
            merged[key] = _merge(old, value)
        else:
            merged[key] = value
    return merged


_OUTCOME_FIELDS: dict[str, Any] = {
    "code": None,
    "label": None,
    "closes": False,
    "completes": None,
    "appointment_status": None,
    "retry_after": None,
    "asks_callback": False,
    "do_not_call": False,
    "failed": None,
}


def _outcome(reader: _Reader, statuses: tuple[str, ...]) -> Outcome:
    reader.check_keys(_OUTCOME_FIELDS)
    data = {**{k: v for k, v in _OUTCOME_FIELDS.items() if v is not None}, **reader.data}
    r = _Reader(reader.source, data, reader.prefix)
    code = r.string("code")
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", code):
        raise r.fail("code", _("a short name of lower-case letters, digits and dashes"))
    label = r.table("label")
    label.check_keys({language: None for language in LANGUAGES})
    closes = r.flag("closes")
    asks_callback = r.flag("asks_callback")
    completes = r.flag("completes") if "completes" in data else closes
    failed = r.flag("failed") if "failed" in data else not (closes or asks_callback)
    status = r.string("appointment_status") if "appointment_status" in data else None
    if status is not None and status not in statuses:
        raise r.fail("appointment_status", _("one of [confirmation] statuses"))
    return Outcome(
        code=code,
        label_en=label.string("en"),
        label_ru=label.string("ru"),
        closes=closes,
        completes=completes,
        appointment_status=status,
        retry_after=r.duration("retry_after") if "retry_after" in data else None,
        asks_callback=asks_callback,
        do_not_call=r.flag("do_not_call"),
        failed=failed,
    )


def _hours(reader: _Reader, key: str) -> Hours:
    text = reader.string(key)
    match = _HOURS.match(text)
    expected = _('opening hours such as "09:00-20:00"')
    if match is None:
        raise reader.fail(key, expected)
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
        raise reader.fail(key, expected)
    start, end = time(h1, m1), (None if h2 == 24 else time(h2, m2))
    if end is not None and end <= start:
        raise reader.fail(key, _("opening hours that end after they start"))
    return Hours(start, end)


def _build(source: str, data: Mapping[str, Any], *, language_given: bool = False) -> Policy:
    top = _Reader(source, data)
    top.check_keys(DEFAULTS)
    language = top.string("language")
    if language not in LANGUAGES:
        raise top.fail("language", _('"en" or "ru"'))
    zone_name = top.string("timezone")
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise top.fail("timezone", _('a time zone name such as "Europe/Moscow"')) from None

    sections = {
        name: top.table(name)
        for name in (
            "database",
            "locks",
            "sessions",
            "confirmation",
            "calls",
            "tasks",
            "phones",
            "telephony",
            "security",
            "log",
        )
    }
    for name, reader in sections.items():
        reader.check_keys(DEFAULTS[name])

    conf = sections["confirmation"]
    window = conf.table("window")
    window.check_keys(DEFAULTS["confirmation"]["window"])
    from_days = window.integer("from_days", 0)
    to_days = window.integer("to_days", from_days)
    statuses = conf.strings("statuses")
    open_statuses = conf.strings("open_statuses")
    for status in open_statuses:
        if status not in statuses:
            raise conf.fail("open_statuses", _("statuses that are all in confirmation.statuses"))
    confirmed = conf.string("confirmed_status")
    if confirmed not in statuses or confirmed in open_statuses:
        raise conf.fail("confirmed_status", _("one of statuses that is not an open status"))

    phones = sections["phones"]
    country_code = phones.string("country_code")
    if not re.fullmatch(r"[1-9][0-9]{0,2}", country_code):
        raise phones.fail("country_code", _('a country calling code of 1 to 3 digits, such as "7"'))
    trunk_prefix = phones.string("trunk_prefix", empty=True)
    if not re.fullmatch(r"[0-9]{0,3}", trunk_prefix):
        raise phones.fail("trunk_prefix", _('up to 3 digits, such as "8" or "0", or ""'))
    national_length = phones.integer("national_length", 0)
    if national_length > 15:
        raise phones.fail("national_length", _("a number of digits from 0 to 15"))
    international_prefix = phones.string("international_prefix", empty=True)
    if not re.fullmatch(r"[0-9]{0,4}", international_prefix) or (
        international_prefix and international_prefix == trunk_prefix
    ):
        raise phones.fail(
            "international_prefix",
            _('up to 4 digits other than the trunk prefix, such as "810" or "011", or ""'),
        )

    tel = sections["telephony"]
    backend = tel.string("backend")
    if backend != "asterisk-ami":
        raise tel.fail("backend", _('"asterisk-ami"'))
    port = tel.integer("port", 1)
    extensions = tel.table("extensions")
    telephony = TelephonyPolicy(
        enabled=tel.flag("enabled"),
        backend=backend,
        host=tel.string("host"),
        port=port,
        username=tel.string("username"),
        secret_file=tel.full_path(
            "secret_file", _('a full path, such as "/etc/ringround/ami.secret"')
        ),
        context=tel.string("context"),
        ring_timeout=tel.duration("ring_timeout"),
        dial_prefix=tel.string("dial_prefix", empty=True),
        extensions={login: extensions.string(login) for login in extensions.data},
    )

    raw_outcomes = data.get("outcomes")
    if not isinstance(raw_outcomes, list) or not raw_outcomes:
        raise top.fail("outcomes", _("a non-empty list of [[outcomes]] tables"))
    if len(raw_outcomes) > 9:
        raise top.fail("outcomes", _("at most 9 outcomes (keys 1 to 9 pick them)"))
    outcomes = []
    for index, raw in enumerate(raw_outcomes, start=1):
        if not isinstance(raw, Mapping):
            raise top.fail("outcomes", _("a list of [[outcomes]] tables"))
        outcomes.append(_outcome(_Reader(source, raw, f"outcomes[{index}]."), statuses))
    codes = [o.code for o in outcomes]
    if len(set(codes)) != len(codes):
        raise top.fail("outcomes", _("outcomes with different codes"))
    if not any(o.closes and o.completes for o in outcomes):
        raise top.fail("outcomes", _("a list with at least one outcome that closes and completes"))

    sec = sections["security"]
    calls = sections["calls"]
    sessions = sections["sessions"]
    policy = Policy(
        source=source,
        language=language,
        language_given=language_given,
        timezone=zone,
        database_path=_database_path(sections["database"]),
        stale_after=sections["locks"].duration("stale_after"),
        heartbeat_every=sessions.duration("heartbeat_every"),
        alive_for=sessions.duration("alive_for"),
        window=Window(from_days, to_days, window.flag("skip_weekends")),
        statuses=statuses,
        open_statuses=open_statuses,
        confirmed_status=confirmed,
        max_attempts=calls.integer("max_attempts", 1),
        min_gap=calls.duration("min_gap"),
        hours=_hours(calls, "hours"),
        personal_callback_grace=calls.duration("personal_callback_grace"),
        callable_task_kinds=sections["tasks"].strings("callable"),
        phones=PhoneRules(country_code, trunk_prefix, national_length, international_prefix),
        telephony=telephony,
        outcomes=tuple(outcomes),
        allow_operator_override=sec.flag("allow_operator_override"),
        supervisors=sec.strings("supervisors"),
        log=_log_target(sections["log"]),
    )
    _check_relations(policy, sections)
    return policy


def _database_path(database: _Reader) -> str:
    """[database] path: a full file path or a PostgreSQL server's address."""
    path = database.string("path")
    if is_server_address(path) and holds_password(path):  # never repeated: others read it
        raise PolicyError(
            _(
                "{source}: {key} holds a password, which does not belong in the policy, where "
                "others can read it; put it in ~/.pgpass, PGPASSWORD or a service file."
            ).format(source=database.source, key=database.prefix + "path")
        )
    if is_server_address(path):
        return path
    return database.full_path(
        "path",
        _('a full path, such as "/var/lib/ringround/clinic.db", or a postgresql:// address'),
    )


def _log_target(log: _Reader) -> LogTarget:
    """[log]: where the administrator's log goes (storage.admin_log)."""
    to = log.string("to")
    if to not in LOG_TARGETS:
        raise log.fail("to", _('"syslog", "file" or "off"'))
    return LogTarget(
        to=to,
        syslog_socket=log.string("syslog_socket"),
        file=log.full_path("file", _('a full path, such as "/var/log/ringround/ringround.log"')),
        max_mb=log.integer("max_mb", 1),
        keep=log.integer("keep", 1),
    )


def default_policy() -> Policy:
    """The built-in policy, the same as the shipped policy.toml."""
    return _build(BUILT_IN, DEFAULTS)


# tomllib's errors end with where the mistake is: "Invalid value (at line 3, column 9)"
# or "(at end of document)" (Python 3.11 to 3.14 alike).
_TOML_MISTAKE = re.compile(
    r"^(?P<reason>.*) \(at (?:line (?P<line>\d+), column (?P<column>\d+)|end of document)\)$",
    re.DOTALL,
)


def _not_toml(source: str, error: str) -> PolicyError:
    """The sentence for a file that is not TOML: where the mistake is, in the staff's
    language, and tomllib's reason in its own English."""
    found = _TOML_MISTAKE.match(error)
    if found is None:
        return PolicyError(
            _("{source}: not valid TOML ({error}).").format(source=source, error=error)
        )
    if found["line"] is None:
        return PolicyError(
            _("{source}: not valid TOML ({reason} (at end of document)).").format(
                source=source, reason=found["reason"]
            )
        )
    return PolicyError(
        _("{source}: not valid TOML ({reason} (at line {line}, column {column})).").format(
            source=source, reason=found["reason"], line=found["line"], column=found["column"]
        )
    )


# The shipped policy.toml, every setting commented, is a few kilobytes; a file far larger is
# the wrong file (a database, a log, /dev/zero), refused before it is read whole.
MAX_POLICY_BYTES = 2**20


def load_policy(path: str | Path | None) -> Policy:
    """Read and validate a policy file merged over the defaults (defaults when None)."""
    if path is None:
        return default_policy()
    source = str(path)
    try:
        with open(path, "rb") as handle:
            content = handle.read(MAX_POLICY_BYTES + 1)
        if len(content) > MAX_POLICY_BYTES:
            raise PolicyError(
                _(
                    "{source}: this is not a policy file, it is larger than {megabytes} MB "
                    "(a policy is a few kilobytes)."
                ).format(source=source, megabytes=MAX_POLICY_BYTES // 2**20)
            )
        # UTF-8 with a byte-order mark (Windows Notepad's "UTF-8 with BOM") is UTF-8 too.
        data = tomllib.loads(content.decode("utf-8").removeprefix("\ufeff"))
    except (FileNotFoundError, NotADirectoryError):  # NotADirectory: "clinic.db/policy.toml"
        raise PolicyError(
            _("{source}: the policy file does not exist.").format(source=source)
        ) from None
    except PermissionError:
        raise PolicyError(
            _("{source}: the policy file cannot be read (permission denied).").format(source=source)
        ) from None
    except IsADirectoryError:
        raise PolicyError(
            _("{source}: this is a folder, not a policy file.").format(source=source)
        ) from None
    except UnicodeDecodeError:
        raise PolicyError(
            _("{source}: the policy file is not UTF-8 text.").format(source=source)
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise _not_toml(source, str(error)) from None
    except OSError as error:  # a name too long for the file system, a disk that fails
        raise PolicyError(
            _("{source}: the policy file cannot be read ({reason}).").format(
                source=source, reason=error.strerror or error
            )
        ) from None
    return _build(source, _merge(DEFAULTS, data), language_given="language" in data)
