"""A realistic, deterministic demo clinic (``ringround demo``).

The same seed and the same ``now`` always give the same database. What it holds:

- clients with Russian names (surname, first name, patronymic, gender endings
  right) and some Latin ones, birth dates, 1–3 phone numbers ("+7 916 123-45-67";
  a few families share a number), e-mails, notes, a few do-not-call clients;
- the doctors and services of a dental and family clinic; past visits,
  appointments today and later, and on every day of
  :func:`storage.worklists.confirmation_days` during clinic hours: mostly
  unconfirmed, some with a message left, some confirmed or cancelled, a few
  with earlier attempts (a retry delay, a call-back) and one locked by an
  operator whose app stopped;
- two call lists ("Hygiene recall, 6 months", "Flu vaccination reminder")
  with pending items and notes, and tasks of the policy's callable kinds, due
  today or earlier (some later, some done).

Everything is written in one ``BEGIN IMMEDIATE`` transaction with
``executemany``; 100,000 clients take a few seconds. An audit entry with
event ``demo`` marks the file as a demo (see :func:`demo_info`): only such a
file is ever replaced, never one holding a clinic's data.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from storage import demo_data as data
from storage.audit import audit
from storage.changes import bulk_load
from storage.clients import rekey_phones
from storage.connection import Connection
from storage.database import ReadOnlyDatabase, StorageError
from storage.engine import is_server_address, location_of, write
from storage.errors import EXIT_BAD_INPUT
from storage.i18n import _
from storage.id_sequences import catch_up_ids, set_highest_id_given
from storage.phones import phone_key
from storage.policy import Outcome, Policy
from storage.rows import APPOINTMENT, ITEM, TASK, RowKey
from storage.worklists import confirmation_days

DEMO_EVENT = "demo"
MIN_CLIENTS = 10
CLINIC_SLOTS = tuple(range(9 * 60, 19 * 60 + 1, 30))  # appointment start minutes, 09:00-19:30

# Tables in an order that deletes children before parents.
_TABLES = (
    "locks",
    "row_notes",
    "attempts",
    "call_rows",
    "audit",
    "call_list_items",
    "call_lists",
    "tasks",
    "appointments",
    "phones",
    "clients",
    "sessions",
)


class DemoError(StorageError):
    """The database already holds other data (the demo never mixes with a clinic's)."""

    exit_code = EXIT_BAD_INPUT


@dataclass(frozen=True)
class DemoInfo:
    """What the demo marker says about an existing demo database."""

    clients: int
    seed: int
    made_at: int
    language: str = "en"  # the language of its names, services and notes ("en" or "ru")


@dataclass(frozen=True)
class DemoSummary:
    clients: int
    phones: int
    appointments: int
    to_confirm: int  # appointments on the confirmation list now
    confirmation_days: tuple[date, ...]
    call_lists: int
    pending_items: int
    tasks: int
    open_tasks: int  # open and due today or earlier
    do_not_call: int


def demo_info(conn: Connection) -> DemoInfo | None:
    """The demo marker of this database, or None if it is not a demo."""
    row = conn.execute(
        "SELECT at, detail FROM audit WHERE event = ? ORDER BY id DESC LIMIT 1", (DEMO_EVENT,)
    ).fetchone()
    if row is None:
        return None
    try:
        detail = json.loads(row[1])
        # Demos written before the language was recorded were in English.
        return DemoInfo(
            int(detail["clients"]),
            int(detail["seed"]),
            int(row[0]),
            str(detail.get("language", "en")),
        )
    except (ValueError, KeyError, TypeError):
        return None


def demo_is_current(info: DemoInfo, policy: Policy, now: int) -> bool:
    """Whether a demo made at ``info.made_at`` still has today's appointments to confirm."""
    return confirmation_days(policy, info.made_at) == confirmation_days(policy, now)


def demo_speaks(info: DemoInfo, policy: Policy) -> bool:
    """Whether the demo's names and notes are in the policy's language (else it is rebuilt)."""
    return info.language == (policy.language if policy.language in data.TEXTS else "en")


def _is_empty(conn: Connection) -> bool:
    row = conn.execute(
        "SELECT NOT EXISTS (SELECT 1 FROM clients) AND NOT EXISTS (SELECT 1 FROM call_lists)"
    ).fetchone()
    return bool(row[0])


def make_demo(
    conn: Connection,
    policy: Policy,
    *,
    clients: int = 300,
    seed: int = 1,
    now: int,
    replace: bool = False,
) -> DemoSummary:
    """Write the demo clinic into an empty database (or, with ``replace``, over a demo).

    Raises DemoError if the database holds anything but an earlier demo.
    """
    if clients < MIN_CLIENTS:
        raise ValueError(f"a demo clinic needs at least {MIN_CLIENTS} clients")
    builder = _Builder(policy, clients, seed, now)
    builder.build()
    with write(conn):
        if not _is_empty(conn):
            if not (replace and demo_info(conn) is not None):
                raise DemoError(
                    (
                        _(
                            "The database {path} already holds clinic data; the demo needs a "
                            "new, empty database (choose one with --db)."
                        )
                        if is_server_address(location_of(conn))
                        else _(
                            "The database {path} already holds clinic data; the demo needs a "
                            "new file (choose one with --db)."
                        )
                    ).format(path=location_of(conn))
                )
            try:
                for table in _TABLES:
                    conn.execute(f"DELETE FROM {table}")
                # A new demo starts a new audit trail (ids from 1), not a trail with its head cut.
                set_highest_id_given(conn, "audit", 0)
            except ReadOnlyDatabase:
                if not is_server_address(location_of(conn)):
                    raise
                # PostgreSQL's operators' role: the trail only grows (docs/postgresql-roles.sql).
                raise ReadOnlyDatabase(
                    _(
                        "Replacing the demo clinic in {path} empties its audit trail, which your "
                        "role may not do; run it as the database's owner "
                        "(docs/deploy-postgresql.md)."
                    ).format(path=location_of(conn))
                ) from None
        rekey_phones(conn, policy.phones)  # no numbers yet: records the rules they are keyed by
        with bulk_load(conn):  # a new clinic: no change feed for each of its rows
            builder.insert(conn)
        catch_up_ids(conn)  # the rows were written with their ids
    return builder.summary()


def _find(
    policy: Policy,
    *,
    closes: bool,
    completes: bool | None = None,
    status: str | None = None,
    callback: bool = False,
) -> Outcome | None:
    """The policy's first outcome of this sort (the demo's earlier calls use it)."""
    for outcome in policy.outcomes:
        if (
            outcome.closes == closes
            and completes in (None, outcome.completes)
            and outcome.appointment_status == status
            and outcome.asks_callback == callback
            and not outcome.do_not_call
        ):
            return outcome
    return None


ClientRow = tuple[int, str, str, str | None, str, str, int]
PhoneRow = tuple[int, int, str, str]
AppointmentRow = tuple[int, str, int, int, str, str, str]
TaskRow = tuple[int, str, int, str, str, int, int | None]
ListRow = tuple[int, str, int, str]
ItemRow = tuple[int, int, int, str, int | None]
# kind, source, client, operator, operator index (for the session), started, ended, mode,
# number, outcome, comment, callback_at
AttemptRow = tuple[str, int, int, str, int, int, int, str, str, str, str, int | None]
# kind, source, client, epoch, failed, last attempt, not_before, callback_at,
# callback_operator, closed_at, closed_reason
CallRow = tuple[
    str, int, int, int, int, int, int | None, int | None, str | None, int | None, str | None
]


@dataclass
class _Rows:
    clients: list[ClientRow] = field(default_factory=list)
    phones: list[PhoneRow] = field(default_factory=list)
    appointments: list[AppointmentRow] = field(default_factory=list)
    tasks: list[TaskRow] = field(default_factory=list)
    lists: list[ListRow] = field(default_factory=list)
    items: list[ItemRow] = field(default_factory=list)
    attempts: list[AttemptRow] = field(default_factory=list)
    call_rows: list[CallRow] = field(default_factory=list)


class _Builder:
    """Generates every row in memory first (as tuples), then inserts them."""

    def __init__(self, policy: Policy, clients: int, seed: int, now: int) -> None:
        self.policy = policy
        self.count = clients
        self.seed = seed
        self.now = now
        self.rng = random.Random(seed)
        self.lang = policy.language if policy.language in data.TEXTS else "en"
        self.text = data.TEXTS[self.lang]
        self.today = datetime.fromtimestamp(now, policy.timezone).date()
        self.days = tuple(confirmation_days(policy, now))
        self.rows = _Rows()
        self.children: list[bool] = [False]  # by client id (index 0 unused)
        self.do_not_call: list[int] = []
        self.lock: tuple[str, int, int, int] | None = None  # kind, source, client, since
        self._noon: dict[date, int] = {}
        statuses = policy.statuses
        self.unconfirmed = policy.open_statuses[0]
        self.left = "left message" if "left message" in policy.open_statuses else self.unconfirmed
        self.confirmed = policy.confirmed_status
        self.cancelled = "cancelled" if "cancelled" in statuses else self.confirmed
        self.outcomes = {
            "confirmed": _find(policy, closes=True, completes=True),
            "left": _find(policy, closes=False, status=self.left)
            if self.left != self.unconfirmed
            else None,
            "no-answer": _find(policy, closes=False),
            "call-back": _find(policy, closes=False, callback=True),
            "cancelled": _find(policy, closes=True, completes=True, status=self.cancelled)
            if self.cancelled != self.confirmed
            else None,
        }

    # -- time ----------------------------------------------------------------

    def at(self, day: date, minute: int) -> int:
        """Seconds at HH:MM (minutes after midnight) on a day, in the clinic's zone.

        Counted from noon so that a daylight-saving change at night does not shift it.
        """
        noon = self._noon.get(day)
        if noon is None:
            noon = int(datetime.combine(day, time(12), self.policy.timezone).timestamp())
            self._noon[day] = noon
        return noon + (minute - 12 * 60) * 60

    def open_day(self, offset: int) -> date:
        """today+offset, or the nearest clinic day (Mon-Fri; Mon-Sat without skip_weekends)
        after it for future days, before it for today and earlier."""
        last = 4 if self.policy.window.skip_weekends else 5
        day = self.today + timedelta(days=offset)
        step = 1 if offset > 0 else -1
        while day.weekday() > last:
            day += timedelta(days=step)
        return day

    def slot(self) -> int:
        return self.rng.choice(CLINIC_SLOTS)

    def call_time(self, days_back: int) -> int:
        """A moment within calling hours, up to ``days_back`` clinic days ago, before now."""
        hours = self.policy.hours
        start = hours.start.hour * 60 + hours.start.minute
        end = 24 * 60 if hours.end is None else hours.end.hour * 60 + hours.end.minute
        for back in range(self.rng.randint(0, days_back), days_back + 8):
            moment = self.at(self.open_day(-back), self.rng.randrange(start, end))
            if moment < self.now - 3600:
                return moment + self.rng.randrange(60)
        return self.now - 3 * 3600

    # -- clients -------------------------------------------------------------

    def phone(self, mobile: bool = True) -> str:
        rng = self.rng
        code = rng.choice(data.MOBILE_CODES if mobile else data.LANDLINE_CODES)
        seven = rng.randrange(10_000_000)
        a, b, c = seven // 10_000, seven // 100 % 100, seven % 100
        if not mobile and rng.random() < 0.3:
            return f"8 ({code}) {a:03d}-{b:02d}-{c:02d}"
        return f"+7 {code} {a:03d}-{b:02d}-{c:02d}"

    def person(self, family: str | None) -> tuple[str, str, str, str | None]:
        """(full name, first name, surname, male form of a Russian surname or None).

        Russian names are "surname first-name patronymic" with the female endings
        where the client is a woman; about one client in 25 has a Latin name.
        """
        rng = self.rng
        female = rng.random() < 0.56
        if family is None and rng.random() < 0.04:
            first, female = rng.choice(data.LATIN_FIRST)
            last = rng.choice(data.LATIN_SURNAMES)
            return f"{first} {last}", first, last, None
        male_surname = family or rng.choice(data.SURNAMES)
        surname = data.feminine(male_surname) if female else male_surname
        first = rng.choice(data.FEMALE_NAMES if female else data.MALE_NAMES)
        patronymic = rng.choice(data.PATRONYMICS)[1 if female else 0]
        return f"{surname} {first} {patronymic}", first, surname, male_surname

    def email(self, first: str, surname: str, born: date | None, child: bool) -> str:
        rng = self.rng
        if rng.random() > 0.55 or child:
            return ""
        first_l, last_l = data.latin(first), data.latin(surname)
        domain = rng.choice(data.MAIL_DOMAINS)
        style = rng.randrange(3)
        if style == 0:
            return f"{first_l}.{last_l}@{domain}"
        if style == 1 and born is not None:
            return f"{last_l}{born.year % 100:02d}@{domain}"
        return f"{first_l[0]}.{last_l}@{domain}"

    def birth_date(self) -> date | None:
        rng = self.rng
        if rng.random() < 0.03:
            return None
        age = rng.randint(2, 17) if rng.random() < 0.12 else int(rng.triangular(18, 92, 45))
        return self.today - timedelta(days=age * 365 + rng.randrange(365))

    def make_clients(self) -> None:
        rng = self.rng
        family: tuple[str, str] | None = None  # (male surname, shared number)
        notes = data.NOTES[self.lang]
        for client_id in range(1, self.count + 1):
            shared = family if family is not None and rng.random() < 0.04 else None
            name, first, surname, male_surname = self.person(shared[0] if shared else None)
            born = self.birth_date()
            child = born is not None and (self.today - born).days < 18 * 365
            phones = [self.phone()]
            if shared is not None:
                # A child has the parent's number first; a spouse has it second.
                phones = [shared[1]] if child else [phones[0], shared[1]]
            roll = rng.random()
            if roll < 0.22:
                phones.append(self.phone(mobile=rng.random() < 0.6))
            elif roll < 0.28:
                phones += [self.phone(), self.phone(mobile=False)]
            phones = list(dict.fromkeys(phones))[:3]
            if male_surname is not None:
                family = (male_surname, phones[0])
            note = rng.choice(notes) if rng.random() < 0.12 else ""
            email = self.email(first, surname, born, child)
            self.rows.clients.append(
                (
                    client_id,
                    f"C{client_id:06d}",
                    name,
                    born.isoformat() if born else None,
                    email,
                    note,
                    0,
                )
            )
            rules = self.policy.phones
            self.rows.phones += [
                (client_id, position, number, phone_key(number, rules))
                for position, number in enumerate(phones, start=1)
            ]
            self.children.append(child)
        self.mark_do_not_call()

    def mark_do_not_call(self) -> None:
        adults = [i for i in range(1, self.count + 1) if not self.children[i]]
        count = min(len(adults), max(2, self.count // 150))
        self.do_not_call = sorted(self.rng.sample(adults, count))
        noted = self.today - timedelta(days=200)
        note = self.text["dnc-note"].format(date=noted.isoformat())
        for client_id in self.do_not_call:
            row = self.rows.clients[client_id - 1]
            self.rows.clients[client_id - 1] = (*row[:5], note, 1)

    def callable_clients(self, count: int) -> list[int]:
        """Distinct random clients who may be called."""
        blocked = set(self.do_not_call)
        pool = [i for i in range(1, self.count + 1) if i not in blocked]
        return self.rng.sample(pool, min(count, len(pool)))

    # -- appointments ---------------------------------------------------------

    def service(self, client_id: int, only: str | None = None) -> tuple[str, str]:
        """(doctor, service) fitting the client's age, or of one service key."""
        rng = self.rng
        while True:
            doctor, speciality = rng.choice(data.DOCTORS)
            services = data.SPECIALITY_SERVICES[speciality]
            if only is not None:
                if only in services:
                    return doctor, self.text[only]
                continue
            key = rng.choice(services)
            both = key in ("checkup", "hygiene")
            if both or self.children[client_id] == (key in data.CHILD_SERVICES):
                return doctor, self.text[key]

    def appointment(
        self,
        client_id: int,
        starts_at: int,
        status: str,
        doctor_service: tuple[str, str] | None = None,
    ) -> int:
        appointment_id = len(self.rows.appointments) + 1
        doctor, service = doctor_service or self.service(client_id)
        self.rows.appointments.append(
            (
                appointment_id,
                f"A{appointment_id:07d}",
                client_id,
                starts_at,
                doctor,
                service,
                status,
            )
        )
        return appointment_id

    def make_history(self) -> None:
        """Past visits (mostly confirmed, some cancelled), today's and later appointments."""
        rng = self.rng
        for client_id in range(1, self.count + 1):
            for _visit in range(rng.choice((0, 0, 1, 1, 1, 2, 2, 3))):
                day = self.open_day(-rng.randint(8, 730))
                status = self.cancelled if rng.random() < 0.1 else self.confirmed
                self.appointment(client_id, self.at(day, self.slot()), status)
        first_later = (self.days[-1] if self.days else self.today) + timedelta(days=1)
        later = max(1, (first_later - self.today).days)
        for client_id in self.callable_clients(self.count // 4):
            day = self.open_day(later + rng.randint(0, 45))
            status = self.unconfirmed if rng.random() < 0.7 else self.confirmed
            self.appointment(client_id, self.at(day, self.slot()), status)
        if self.today.weekday() < 5 and self.today not in self.days:
            for client_id in self.callable_clients(max(3, self.count // 25)):
                self.appointment(client_id, self.at(self.today, self.slot()), self.confirmed)

    def day_plan(self, size: int, first_day: bool) -> list[str]:
        """What happened so far to each appointment of one confirmation day, shuffled.

        Every state appears at least once, so even a small demo shows them all.
        """

        def share(fraction: float) -> int:
            return max(1, round(size * fraction))

        plan = (
            ["left"] * share(0.12)
            + ["confirmed"] * share(0.15)
            + ["cancelled"] * share(0.05)
            + ["recent"] * share(0.03)
            + ["no-answer"] * share(0.06)
            + ["call-back-due"]
            + ["call-back-later"] * share(0.01)
            + ["lock"] * first_day
        )
        plan += ["open"] * max(0, size - len(plan))
        self.rng.shuffle(plan)
        return plan

    def make_confirmations(self) -> None:
        """Appointments on the confirmation days, with some calls already made."""
        per_day = max(12, round(self.count * 0.06))
        for number, day in enumerate(self.days):
            booked: set[tuple[str, int]] = set()
            chosen = self.callable_clients(per_day - 1)
            plan = self.day_plan(len(chosen), number == 0)
            if self.do_not_call:  # one do-not-call client shows how such rows look
                chosen.append(self.do_not_call[0])
                plan.append("open")
            for client_id, what in zip(chosen, plan, strict=False):
                doctor, service = self.service(client_id)
                minute = self.slot()
                for _try in range(10):  # a free slot of that doctor, if one is found quickly
                    if (doctor, minute) not in booked:
                        break
                    minute = self.slot()
                booked.add((doctor, minute))
                status = {
                    "left": self.left,
                    "confirmed": self.confirmed,
                    "cancelled": self.cancelled,
                }.get(what, self.unconfirmed)
                appointment_id = self.appointment(
                    client_id, self.at(day, minute), status, (doctor, service)
                )
                self.confirmation_calls(appointment_id, client_id, what)

    def confirmation_calls(self, appointment_id: int, client_id: int, what: str) -> None:
        """The earlier call (or the lock) that ``what`` of day_plan stands for."""
        key: tuple[str, int, int] = (APPOINTMENT, appointment_id, client_id)
        if what in ("left", "confirmed", "cancelled", "no-answer"):
            self.attempt(*key, what, self.call_time(1))
        elif what == "recent":  # tried a moment ago: not callable yet (dimmed)
            self.attempt(*key, "no-answer", self.now - self.rng.randint(5, 25) * 60)
        elif what == "call-back-due":
            self.attempt(*key, "call-back", self.call_time(1), callback=-600)
        elif what == "call-back-later":
            self.attempt(*key, "call-back", self.call_time(1), callback=2 * 3600)
        elif what == "lock":
            self.lock = (*key, self.now - 180)

    def attempt(
        self,
        kind: str,
        source_id: int,
        client_id: int,
        what: str,
        ended: int,
        *,
        callback: int | None = None,
    ) -> None:
        """One earlier call on a row, with the row's calling state as finish_call leaves it."""
        outcome = self.outcomes.get(what)
        if outcome is None:
            return
        rng = self.rng
        started = ended - rng.randint(40, 240)
        operator_session = rng.randrange(len(data.OPERATORS))
        callback_at = self.now + callback if outcome.asks_callback and callback else None
        comment = (
            data.COMMENTS[self.lang].get("item-no-answer" if kind == ITEM else what, "")
            if rng.random() < 0.8
            else ""
        )
        self.rows.attempts.append(
            (
                kind,
                source_id,
                client_id,
                data.OPERATORS[operator_session],
                operator_session,
                started,
                ended,
                "manual",
                "",
                outcome.code,
                comment,
                callback_at,
            )
        )
        closed = outcome.closes
        wait = max(self.policy.min_gap, outcome.retry_after or 0)
        not_before = None if closed or callback_at else ended + wait
        self.rows.call_rows.append(
            (
                kind,
                source_id,
                client_id,
                1,
                int(outcome.failed),
                ended,
                not_before,
                callback_at,
                None,
                ended if closed else None,
                outcome.code if closed else None,
            )
        )

    # -- call lists and tasks ------------------------------------------------

    def make_call_lists(self) -> None:
        rng = self.rng
        created = self.now - 3 * 86400
        self.rows.lists = [
            (1, self.text["hygiene-list"], created, data.OPERATORS[0]),
            (2, self.text["flu-list"], created, data.OPERATORS[0]),
        ]
        hygiene = self.callable_clients(max(8, self.count // 12))
        if len(self.do_not_call) > 1:
            hygiene.append(self.do_not_call[1])
        for client_id in hygiene:
            day = self.open_day(-rng.randint(182, 215))
            doctor, service = self.service(client_id, only="hygiene")
            self.appointment(
                client_id, self.at(day, self.slot()), self.confirmed, (doctor, service)
            )
            note = self.text["last-cleaning"].format(date=day.isoformat(), doctor=doctor)
            self.list_item(1, client_id, note)
        flu_notes = data.FLU_NOTES[self.lang]
        for client_id in self.callable_clients(max(6, self.count // 20)):
            self.list_item(2, client_id, rng.choice(flu_notes))

    def list_item(self, list_id: int, client_id: int, note: str) -> None:
        rng = self.rng
        item_id = len(self.rows.items) + 1
        roll = rng.random()
        processed = self.now - rng.randint(1, 3) * 86400 if roll < 0.15 else None
        self.rows.items.append((item_id, list_id, client_id, note, processed))
        if processed is None and roll < 0.25:
            self.attempt(ITEM, item_id, client_id, "no-answer", self.call_time(2))

    def make_tasks(self) -> None:
        rng = self.rng
        kinds = self.policy.callable_task_kinds
        titles = data.TASK_TITLES[self.lang]
        for client_id in self.callable_clients(max(12, self.count // 8)):
            task_id = len(self.rows.tasks) + 1
            kind = rng.choice(kinds)
            title = rng.choice(titles.get(kind, (self.text["task"],)))
            roll = rng.random()
            if roll < 0.6:  # open, due today or earlier
                due, done = self.at(self.open_day(-rng.randint(0, 14)), 9 * 60), None
            elif roll < 0.75:  # open, due later
                due, done = self.at(self.open_day(rng.randint(2, 14)), 9 * 60), None
            else:
                due = self.at(self.open_day(-rng.randint(3, 60)), 9 * 60)
                done = due + rng.randint(1, 48) * 3600
            self.rows.tasks.append(
                (
                    task_id,
                    f"T{task_id:06d}",
                    client_id,
                    kind,
                    title,
                    due,
                    min(done, self.now) if done is not None else None,
                )
            )

    def build(self) -> None:
        self.make_clients()
        self.make_history()
        self.make_confirmations()
        self.make_call_lists()
        self.make_tasks()

    # -- writing -------------------------------------------------------------

    def insert(self, conn: Connection) -> None:
        """Insert everything; call inside a write transaction on an empty database."""
        rows = self.rows
        audit(
            conn,
            self.now,
            "ringround",
            None,
            DEMO_EVENT,
            clients=self.count,
            seed=self.seed,
            language=self.lang,
        )
        # The first operator's app stopped during a call (no clean exit); the second's ended.
        sessions = [
            self.session(conn, operator, ended=index > 0)
            for index, operator in enumerate(data.OPERATORS)
        ]
        conn.executemany(
            "INSERT INTO clients (id, external_id, name, birth_date, email, notes,"
            " do_not_call) VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows.clients,
        )
        conn.executemany(
            "INSERT INTO phones (client_id, position, number, digits) VALUES (?, ?, ?, ?)",
            rows.phones,
        )
        conn.executemany(
            "INSERT INTO appointments (id, external_id, client_id, starts_at,"
            " doctor, service, status) VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows.appointments,
        )
        conn.executemany(
            "INSERT INTO tasks (id, external_id, client_id, kind, title, due_at,"
            " done_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows.tasks,
        )
        conn.executemany(
            "INSERT INTO call_lists (id, name, created_at, created_by) VALUES (?, ?, ?, ?)",
            rows.lists,
        )
        conn.executemany(
            "INSERT INTO call_list_items (id, list_id, client_id, note,"
            " processed_at) VALUES (?, ?, ?, ?, ?)",
            rows.items,
        )
        conn.executemany(
            "INSERT INTO attempts (kind, source_id, client_id, operator, session_id, started_at,"
            " ended_at, mode, number, outcome, comment, callback_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(*a[:4], sessions[a[4]], *a[5:]) for a in rows.attempts],
        )
        conn.executemany(
            "INSERT INTO call_rows (kind, source_id, client_id, epoch, failed_attempts,"
            " last_attempt_at, not_before, callback_at, callback_operator, closed_at,"
            " closed_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows.call_rows,
        )
        if self.lock is not None:
            self.insert_lock(conn, sessions[0])

    def session(self, conn: Connection, operator: str, *, ended: bool) -> int:
        """A demo operator's session, gone two minutes ago (ended, or its app stopped)."""
        gone = self.now - 120
        row = conn.execute(
            "INSERT INTO sessions (operator, pid, host, tty, started_at, heartbeat_at, ended_at)"
            " VALUES (?, 0, 'demo', '', ?, ?, ?) RETURNING id",
            (operator, self.now - 9 * 3600, gone, gone if ended else None),
        ).fetchone()
        return int(row[0])

    def insert_lock(self, conn: Connection, session_id: int) -> None:
        """A row whose operator's app stopped during a call (shown as locked, C8/C11)."""
        assert self.lock is not None
        kind, source_id, client_id, since = self.lock
        conn.execute(
            "INSERT INTO call_rows (kind, source_id, client_id, epoch) VALUES (?, ?, ?, 1)",
            (kind, source_id, client_id),
        )
        conn.execute(
            "INSERT INTO locks (kind, source_id, client_id, session_id, operator, since, epoch)"
            " VALUES (?, ?, ?, ?, ?, ?, 1)",
            (kind, source_id, client_id, session_id, data.OPERATORS[0], since),
        )
        audit(
            conn, since, data.OPERATORS[0], session_id, "claim", RowKey(kind, source_id), client_id
        )

    def summary(self) -> DemoSummary:
        rows = self.rows
        open_statuses = set(self.policy.open_statuses)
        window = [a for a in rows.appointments if a[6] in open_statuses and self.in_window(a[3])]
        closed = {(r[0], r[1]) for r in rows.call_rows if r[9] is not None}
        end_of_today = self.at(self.today + timedelta(days=1), 0)
        kinds = set(self.policy.callable_task_kinds)
        return DemoSummary(
            clients=self.count,
            phones=len(rows.phones),
            appointments=len(rows.appointments),
            to_confirm=sum((APPOINTMENT, a[0]) not in closed for a in window),
            confirmation_days=self.days,
            call_lists=len(rows.lists),
            pending_items=sum(i[4] is None and (ITEM, i[0]) not in closed for i in rows.items),
            tasks=len(rows.tasks),
            open_tasks=sum(
                t[6] is None
                and t[3] in kinds
                and t[5] < end_of_today
                and (TASK, t[0]) not in closed
                for t in rows.tasks
            ),
            do_not_call=len(self.do_not_call),
        )

    def in_window(self, starts_at: int) -> bool:
        if not self.days:
            return False
        return self.at(self.days[0], 0) <= starts_at < self.at(self.days[-1] + timedelta(days=1), 0)
