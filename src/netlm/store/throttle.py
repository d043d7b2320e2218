"""Sign-in throttling rules: when a run of failures makes the next attempt wait.

Two rules, both back-off (each further failure doubles the wait, up to a cap), never a lock that
lasts while someone keeps failing at a slow pace:

- per (username, address), or per (username, trusted browser): from the `max_failures`-th
  failure in a row the next attempt waits PAIR_FIRST_WAIT, doubling up to PAIR_MAX_WAIT;
- per account, over every address without a trusted-browser cookie: from the ACCOUNT_CEILING-th
  failure in a row the next attempt waits 1 s, doubling up to ACCOUNT_MAX_WAIT. Guessing one
  password from many addresses thus gets ACCOUNT_CEILING tries, then about one every 15 minutes.

A trusted browser is one the user signed in from (a signed cookie, see web/security.py): its
attempts are counted on their own and ignore the account rule, so neither a guesser elsewhere nor
one behind the same NAT address can keep the real user out of a browser they have used before.
"""

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

PAIR_FIRST_WAIT = dt.timedelta(minutes=1)
PAIR_MAX_WAIT = dt.timedelta(hours=1)
ACCOUNT_CEILING = 20
ACCOUNT_FIRST_WAIT = dt.timedelta(seconds=1)
ACCOUNT_MAX_WAIT = dt.timedelta(minutes=15)
# Failures read per rule: past this many beyond the limit the wait is at its cap anyway.
BACKOFF_STEPS = 12
ALL_ADDRESSES = "*"  # the address shown for the account rule's back-off


@dataclass(frozen=True)
class LockInfo:
    """Attempts of `username` from `ip` (ALL_ADDRESSES: the account rule) refused until `until`,
    after `failures` failures in a row."""

    username: str
    ip: str
    failures: int
    until: dt.datetime


def locked_until(
    failures: Sequence[dt.datetime],
    limit: int,
    quiet: dt.timedelta,
    first: dt.timedelta = PAIR_FIRST_WAIT,
    cap: dt.timedelta = PAIR_MAX_WAIT,
) -> tuple[dt.datetime | None, int]:
    """Until when the last run of `failures` (oldest first) makes attempts wait, and its length.

    A run has no gap of `quiet` after a failure or the wait it caused; its `limit`-th failure
    makes the next attempt wait `first`, each further one twice as long, up to `cap`.
    """
    count, until, last = 0, None, None
    for at in failures:
        if last is not None and at - max(last, until or last) >= quiet:
            count, until = 0, None
        count, last = count + 1, at
        if count >= limit:
            until = at + min(first * 2 ** min(count - limit, 30), cap)
    return until, count


def seconds_until(until: dt.datetime, now: dt.datetime) -> int:
    return max(1, math.ceil((until - now).total_seconds()))
