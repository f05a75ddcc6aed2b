"""Reading a file the admin gives us: clients, appointments, tasks or a call list.

``ringround import KIND FILE`` (and ``ringround lists create``) come here.

The file
--------
- At most MAX_FILE_BYTES (200 MB), and a workbook unpacking to at most
  MAX_UNPACKED_BYTES (1,000 MB): the whole file is checked in memory before
  anything is saved, at about 17 times its size; a larger one is refused
  before it is read (storage/imports/files.py: read_import_file).
- An Excel workbook (.xlsx: its first sheet, read as storage/imports/workbooks.py
  says) or a CSV file, as follows.
- CSV: UTF-8 text, with or without a byte-order mark (Excel's "CSV UTF-8" writes
  one), or UTF-16 text with one (Excel's "Unicode Text", tab-separated). Other
  encodings are refused with the line of the first bad byte.
- One header row naming the columns, in any order; names are matched without
  regard to case, surrounding spaces, or ``-``/space instead of ``_``. An
  unknown or repeated column is an error (usually a typo).
- Fields separated by commas, semicolons (what spreadsheet programs in Russia
  write) or tabs: the separator is the one the header line uses most.
  Quoting as in RFC 4180; fields may hold separators and line breaks in quotes.
- An apostrophe before ``=``, ``+``, ``-``, ``@``, a tab, a carriage return,
  another apostrophe, or a text a spreadsheet would read as a number, date,
  time or yes/no (``0012``, ``12:30``) at the start of a field is dropped:
  export puts it there so that spreadsheet programs show such fields as text
  (storage/cells.py).
- Empty lines, and lines whose fields are all empty, are skipped.
- Whatever ``ringround export KIND`` writes, ``import KIND`` reads back, and
  importing an export of the same database changes nothing.

Values
------
- Times: ISO 8601 with an offset (``2026-11-27T10:30:00+03:00``, as exported)
  or without one (``2026-11-27 10:30``, ``2026-11-27T10:30:15``), or
  ``27.11.2026 10:30``; a time without an offset is in the clinic's time zone
  (policy ``timezone``). Where a date alone is allowed it means 00:00.
- Dates: ``2026-11-27`` or ``27.11.2026``.
- Yes/no: ``1``/``0``, ``yes``/``no``, ``true``/``false``, ``y``/``n``,
  ``да``/``нет``, ``истина``/``ложь`` (a Russian spreadsheet's); empty is no.
- Phone numbers: separated by ``;`` (in quotes in a ``;``-separated file), the
  main number first; each must hold at least one digit. They are stored as
  written; the digits they are compared by (shared numbers) are brought to
  international form with the policy's ``[phones]`` rules (storage.phones).
- Texts (names, notes, ...) are taken exactly as written; ids, codes and keys
  have surrounding spaces removed.

Updating rather than duplicating
--------------------------------
A row is matched to a record of the database by ``id`` (ringround's own id,
as exported; it must exist) or else by ``external_id`` (the id in the
clinic's own system); a row matching nothing adds a record. A row whose
``id`` and ``external_id`` name different records, or whose ``id`` names a
record with another external id, is refused (a file exported from another
database, most likely). A column present
in the file is written on matched records; a column left out keeps what the
database has. Rows of the database missing from the file are left alone.

An import never undoes the result of a call: ``do_not_call`` is set but
never cleared, an empty ``done_at`` / ``processed_at`` keeps a done task or a
processed call-list item as it is, and an open confirmation status
(``unconfirmed``, ``left message``) does not replace a closed one
(``confirmed``, ``cancelled``) unless the appointment moves to another time.
These are counted as "kept" in the summary.

Columns
-------
clients (``import clients``):

| column | required | meaning |
|---|---|---|
| id | | ringround's client id, to update that client |
| external_id | | the client's id in the clinic's system (unique); matches on re-import |
| name | for new clients | full name |
| phones | | numbers separated by ``;``, main first; empty: no numbers |
| do_not_call | | yes/no; an import sets it but never clears it |
| birth_date | | date; empty: unknown |
| email | | |
| notes | | |

appointments (``import appointments``):

| column | required | meaning |
|---|---|---|
| id | | ringround's appointment id, to update it |
| external_id | | the appointment's id in the clinic's system |
| client_id | one of these two for new appointments | ringround's client id |
| client_external_id | | the client's external_id |
| client | | the client's name: ignored (exports write it for people) |
| starts_at | for new appointments | time |
| doctor | | |
| service | | |
| status | | a confirmation status of the policy; empty: unchanged (new: the first open status) |

tasks (``import tasks``):

| column | required | meaning |
|---|---|---|
| id | | ringround's task id, to update it |
| external_id | | the task's id in the clinic's system |
| client_id | one of these two for new tasks | ringround's client id |
| client_external_id | | the client's external_id |
| client | | ignored |
| kind | for new tasks | e.g. recall, reminder, follow-up (policy ``[tasks] callable``) |
| title | | |
| due_at | for new tasks | time, or a date (00:00) |
| done_at | | time or date the task was done; empty: open (a done task stays done) |

call-list (``import call-list --name NAME``): one row per client to call. The
list is made if there is none of that name; a client already on it is
updated, not added twice. Needs the supervisor role.

| column | required | meaning |
|---|---|---|
| list | without ``--name`` | the call list's name (``--name`` wins over it) |
| client_id (or id) | one of these two | ringround's client id |
| client_external_id (or external_id) | | the client's external_id |
| note | | what the call is about, shown in the row |
| processed_at | | time the item was processed; empty: pending (a processed item stays processed) |
| client, name, phones, state, do_not_call, birth_date, email, notes | | ignored |

The aliases make a clients export (``ringround export clients``, filtered in a
spreadsheet) usable as a call list as it is.

A bad file changes nothing
--------------------------
Every row is checked first; the changes are then written in one write
transaction that checks the references again (ids, external ids, clients)
before writing. Any problem leaves the database exactly as it was and is
reported as a :class:`BadFile` listing every problem with its line (the
line of the file where the row starts) and column.

The modules
-----------
- cell_values: reading one cell (ids, times, dates, yes/no, phone numbers).
- files, workbooks: a CSV file or a workbook as records; damage: what a
  spreadsheet program did to a file (wrong code page, lost digits and zeros,
  the same person twice).
- checking: a file against its kind (header, then every cell).
- spec, kinds: what differs between the kinds, as data (one KindSpec each:
  clients, appointments, tasks, call_lists; client_records holds what
  appointments and tasks share); matching: rows to records of the database.
- importing: the import as a whole (plan, then write in one transaction).
"""

from storage.imports.cell_values import (
    YearOutOfRange,
    is_date,
    parse_date,
    parse_moment,
    year_out_of_range,
)
from storage.imports.files import MAX_FILE_BYTES, MAX_UNPACKED_BYTES, read_import_file
from storage.imports.importing import ImportResult, describe_result, import_csv
from storage.imports.kinds import KINDS
from storage.imports.problems import SHOWN_PROBLEMS, BadFile, Problem

__all__ = [
    "KINDS",
    "MAX_FILE_BYTES",
    "MAX_UNPACKED_BYTES",
    "SHOWN_PROBLEMS",
    "BadFile",
    "ImportResult",
    "Problem",
    "YearOutOfRange",
    "describe_result",
    "import_csv",
    "is_date",
    "parse_date",
    "parse_moment",
    "read_import_file",
    "year_out_of_range",
]
