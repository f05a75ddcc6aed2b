"""A database server that goes silent mid-call: run alone, as root, in a network of its own.

tests/storage/test_postgres_engine.py runs this as ``unshare -n python -m
tests.storage.silent_network``: a network namespace whose only network is its
own loopback, so what is done to that network here touches nothing else on
the computer. It starts a throwaway PostgreSQL server there (the tests'
cluster), claims a call row, then takes the network away
(``ip link set lo down``) and finishes the call; once that has ended, it
brings the network back and looks at what the database holds. What it saw
goes to stdout as one JSON object, for the test to judge.

Taking loopback down makes every packet vanish, both ways, as a dead server
host, a pulled cable or a firewall that drops packets does: no reset, no
goodbye; TCP keeps resending what the server never acknowledged, exactly as
towards a server gone from the network. (A new connection meanwhile is
refused at once, "network is unreachable", where a real outage lets it wait
for connect_timeout: both are a server that does not answer.) traffic
control's netem or a packet filter would do the same; loopback needs neither
a kernel module nor a program that not every computer has.
"""

from __future__ import annotations

import json
import subprocess
import threading
from typing import Any

from benchmarks.postgres_cluster import start_cluster
from storage.connection import Connection
from storage.database import DatabaseUnreachable
from storage.engine import open_engine
from storage.locks import Claim, claim_row, finish_call
from storage.policy import default_policy
from storage.postgres_engine import PostgresEngine
from storage.rows import ITEM, RowKey
from tests.postgres_server import TEST_SETTINGS
from tests.stored_clinic import NOW, StoredClinic
from tests.waiting import wait_until

# Whoever gives up first: this, or the test that started the scenario, is a hang. Far
# beyond the connection settings' 15 s, far below the kernel's 15 minutes without them.
PATIENCE = 90.0


def network(state: str) -> None:
    """This namespace's only network, loopback, "up" or "down"."""
    subprocess.run(["ip", "link", "set", "lo", state], check=True)


def row_state(conn: Connection, key: RowKey) -> dict[str, Any]:
    """What the finish of ``key`` changes: its attempts, its lock, the item's processed_at."""
    attempts = conn.execute(
        "SELECT count(*) FROM attempts WHERE kind = ? AND source_id = ?",
        (key.kind, key.source_id),
    ).fetchone()[0]
    locks = conn.execute(
        "SELECT count(*) FROM locks WHERE kind = ? AND source_id = ?", (key.kind, key.source_id)
    ).fetchone()[0]
    processed = conn.execute(
        "SELECT processed_at FROM call_list_items WHERE id = ?", (key.source_id,)
    ).fetchone()[0]
    return {"attempts": int(attempts), "locks": int(locks), "processed": processed is not None}


def watch_error(engine: PostgresEngine) -> str:
    """The sentence the change watch raises once its idle connection is found dead."""
    watch = engine.watch()
    try:
        failures: list[str] = []

        def lost() -> bool:
            try:
                watch.changes()
            except DatabaseUnreachable as error:
                failures.append(str(error))
                return True
            watch.wait(1.0)
            return False

        network("down")
        wait_until(lost, "the watch to notice the silent network", timeout=PATIENCE)
        network("up")
        back = wait_until(watch.changes, "the watch to connect again")
        assert not back.complete, "commits made meanwhile were not announced: read everything"
        return failures[0]
    finally:
        watch.close()


def scenario() -> dict[str, Any]:
    network("up")
    server = start_cluster(TEST_SETTINGS)
    try:
        url = server.url(server.new_database())
        engine = open_engine(url)
        assert isinstance(engine, PostgresEngine)
        conn = engine.connect(create=True)
        clinic = StoredClinic(conn, url)
        _list, items = clinic.add_clients_on_list(2)
        first, second = (RowKey(ITEM, item) for item in items)
        policy = default_policy()
        session = clinic.session()
        claim = claim_row(conn, policy, session, first, NOW)
        assert isinstance(claim, Claim)
        before = row_state(conn, first)

        network("down")
        outcome: dict[str, str] = {}

        def finish() -> None:
            try:
                finish_call(conn, policy, session, claim, "confirmed", "reached", NOW + 60)
                outcome["finished"] = "saved"
            except DatabaseUnreachable as error:
                outcome["finished"] = f"DatabaseUnreachable: {error}"
            except Exception as error:  # reported as it is, for the test to see
                outcome["finished"] = f"{type(error).__name__}: {error}"

        finishing = threading.Thread(target=finish, daemon=True)
        finishing.start()
        finishing.join(PATIENCE)
        network("up")
        if finishing.is_alive():
            return {"finished": f"still saving after {PATIENCE:g} s"}

        after = row_state(conn, first)  # the same connection: made again after the loss
        if after["attempts"] == 0:  # nothing saved: the operator saves again
            finish_call(conn, policy, session, claim, "confirmed", "reached", NOW + 90)
        again = claim_row(conn, policy, session, second, NOW + 120)
        assert isinstance(again, Claim)
        finish_call(conn, policy, session, again, "confirmed", "reached", NOW + 180)
        report = {
            "finished": outcome["finished"],
            "before": before,
            "after": after,
            "saved_again": row_state(conn, first),
            "next_call": row_state(conn, second),
            "watch": watch_error(engine),
        }
        conn.close()
        return report
    finally:
        network("up")
        server.remove()


if __name__ == "__main__":
    print(json.dumps(scenario()))
