"""The ``ringround`` command (README, "Commands"), beside tui/, storage/ and telephony/.

Every command takes ``--db PATH`` and ``--policy PATH`` after its own name
(or before it, or from RINGROUND_DB / RINGROUND_POLICY; without either, the
policy is found as storage/policy_files.py says). Without ``--db`` the
app, ``check``, ``backup``, ``export`` and ``locks`` use the policy's
[database] path; ``demo`` uses ringround-demo.db.

Exit codes: 0 success; 1 failure (including a refused ``locks --release``
or one whose row changed hands between reading and releasing its lock,
``lists close/reopen/delete``, ``lists create``, ``import call-list`` or
``report`` by someone who is not a supervisor, and ``check`` finding
problems); 2 bad input (usage, a bad policy, ``--operator`` not allowed, a
file that is not a ringround database, a CSV file to import with problems
(each listed with its line and column), a call list that does not exist, a
row that is not locked, a backup destination that is the live database or in
a missing folder); 130 interrupted. When the reader of the output goes away
(``ringround export calls | head``) the command stops quietly with 1 (click's
and Python's convention). Errors are one sentence on standard error, never a
traceback: the errors shown to staff are one family (storage/errors.py), and
anything else is a bug, said as one and logged with its traceback in the
administrator's log (RINGROUND_DEBUG=1 shows it on the terminal).

The package: cli/launch.py is the console script's entry point (it pauses
the garbage collector while the program loads), cli/main.py the command
line's, which maps errors once (cli/errors.py) and shows Click's help in the clinic's language
(cli/help.py); cli/root.py is the root group and cli/start.py the app's
start. The commands are loaded on first use, so that the app's start does
not pay for them: cli/commands.py holds demo, check, policy, backup and
locks, cli/data.py the data commands export, import, lists and report, and
cli/copying.py copy. cli/options.py and cli/output.py are what the commands
share. The app itself is imported only when it starts
(tui/start.py), so that no other command loads Textual.
"""
