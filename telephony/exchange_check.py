"""``ringround check`` with telephony on: can ringround log in to the phone exchange?

It connects and logs in exactly as the app does (the policy's host, port,
username and secret file), sends a Ping, reports what the exchange answered
and logs off. Nothing is dialled.
"""

from __future__ import annotations

import asyncio

from storage.admin_log import field
from storage.health import OK, PROBLEM, Finding
from storage.i18n import _
from storage.policy import TelephonyPolicy
from telephony.ami import AmiBackend
from telephony.calls import TelephonyError
from telephony.secret import read_secret

CONNECT_TIMEOUT_S = 5.0


def check_exchange(
    policy: TelephonyPolicy, *, connect_timeout: float = CONNECT_TIMEOUT_S
) -> Finding | None:
    """One finding: the exchange's answers, or why ringround could not log in.

    None when the secret file cannot be used: ``check``'s finding about that
    file already says why, and without the secret there is nothing to try.
    """
    try:
        read_secret(policy.secret_file)
    except TelephonyError:
        return None
    return asyncio.run(_check(policy, connect_timeout))


async def _check(policy: TelephonyPolicy, connect_timeout: float) -> Finding:
    backend = AmiBackend(policy, connect_timeout=connect_timeout, reply_timeout=2 * connect_timeout)
    try:
        reply = await backend.ping()
    except TelephonyError as error:
        return Finding(PROBLEM, str(error))
    finally:
        await backend.close()  # sends Logoff when logged in
    if reply.get("Response") != "Success":
        return Finding(
            PROBLEM,
            _(
                "The phone exchange at {host}:{port} accepted the login but refused a ping "
                "({answer}); check the manager user's rights in its manager.conf."
            ).format(
                host=policy.host,
                port=policy.port,
                answer=field(reply.get("Message") or reply.get("Response")),
            ),
        )
    return Finding(
        OK,
        _(
            "The phone exchange at {host}:{port} ({greeting}) accepted the login of {username} "
            "({answer}) and answered a ping ({ping}); ringround logged off again."
        ).format(
            host=policy.host,
            port=policy.port,
            greeting=field(backend.greeting),
            username=field(policy.username),
            answer=field(backend.login_answer),
            ping=field(reply.get("Ping") or reply.get("Response")),
        ),
    )
