"""Notifications as rules: which events exist, who gets which by default, and the words of
a message. Pure: the services write the rows (services/notifications.py) and send them
(services/notify_delivery.py).

One message per recipient and channel at a time: what waits for the same person (or the
chat webhook) when a message goes out is sent together, as one summary (`summary_text`), so
a burst of 500 escalations is one email, not 500.
"""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class Event(StrEnum):
    ASSIGNED = "assigned"  # an item was assigned to you
    ESCALATED = "escalated"  # an item of a queue you take escalations of was escalated
    SLA_WARNING = "sla_warning"  # an item is about to pass its SLA
    BREAKER = "breaker"  # a queue's circuit breaker tripped
    READINESS = "readiness"  # a queue's stage has met every readiness gate
    DIGEST = "digest"  # daily: what waits for you


class Channel(StrEnum):
    EMAIL = "email"
    CHAT = "chat"


class Status(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"
    SKIPPED = "skipped"  # nothing to send it to (a user without an email address)


EVENT_LABELS: dict[Event, str] = {
    Event.ASSIGNED: "An item is assigned to me",
    Event.ESCALATED: "An item is escalated to me (I take a queue's escalations)",
    Event.SLA_WARNING: "An item I could take is about to pass its SLA",
    Event.BREAKER: "A queue's circuit breaker trips (queues I lead)",
    Event.READINESS: "A queue's stage meets all its readiness gates (queues I lead)",
    Event.DIGEST: "A daily digest of what waits for me",
}
# What a person gets by email before they choose (the settings page).
DEFAULT_EMAIL_EVENTS: frozenset[Event] = frozenset({Event.ASSIGNED, Event.ESCALATED, Event.DIGEST})
# The chat webhook gets every queue-level event unless the queue sets `chat = false`;
# assignments and digests are personal and go by email only.
CHAT_EVENTS: frozenset[Event] = frozenset(
    {Event.ESCALATED, Event.SLA_WARNING, Event.BREAKER, Event.READINESS}
)
# How many item links a summary lists before "and N more".
SUMMARY_LINKS = 5
# The recipient key of the chat webhook (a person's is `user:<id>`).
CHAT_RECIPIENT = "chat"


def email_events(chosen: Sequence[str] | None) -> frozenset[Event]:
    """The events a person gets by email: what they chose (unknown names ignored), or the
    defaults when they never chose."""
    if chosen is None:
        return DEFAULT_EMAIL_EVENTS
    known = {e.value for e in Event}
    return frozenset(Event(name) for name in chosen if name in known)


def user_recipient(user_id: int) -> str:
    return f"user:{user_id}"


@dataclass(frozen=True)
class Message:
    subject: str
    text: str


@dataclass(frozen=True)
class Part:
    """One notification row, as much of it as a message needs."""

    event: str
    subject: str
    text: str
    link: str


def message_for(parts: Sequence[Part]) -> Message:
    """The one message that carries `parts` (oldest first): the part itself when alone, else
    a summary with the count per event and the first SUMMARY_LINKS links."""
    if len(parts) == 1:
        return Message(subject=parts[0].subject, text=parts[0].text)
    return summary(parts)


def summary(parts: Sequence[Part]) -> Message:
    counts = Counter(p.event for p in parts)
    described = ", ".join(
        f"{n} {_event_noun(Event(event), n)}" for event, n in sorted(counts.items())
    )
    lines = [f"{len(parts)} notifications: {described}.", ""]
    shown = parts[:SUMMARY_LINKS]
    lines += [f"- {p.subject}" + (f": {p.link}" if p.link else "") for p in shown]
    if len(parts) > len(shown):
        lines.append(f"… and {len(parts) - len(shown)} more.")
    return Message(subject=f"Review Queue: {described}", text="\n".join(lines))


_NOUNS = {
    Event.ASSIGNED: ("item assigned", "items assigned"),
    Event.ESCALATED: ("item escalated", "items escalated"),
    Event.SLA_WARNING: ("item near its SLA", "items near their SLA"),
    Event.BREAKER: ("breaker trip", "breaker trips"),
    Event.READINESS: ("stage ready", "stages ready"),
    Event.DIGEST: ("digest", "digests"),
}


def _event_noun(event: Event, n: int) -> str:
    one, many = _NOUNS[event]
    return one if n == 1 else many


def item_part(event: Event, *, queue: str, external_id: str, link: str, detail: str = "") -> Part:
    """An event about one item (assigned, escalated, SLA warning)."""
    what = {
        Event.ASSIGNED: "assigned to you",
        Event.ESCALATED: "escalated",
        Event.SLA_WARNING: "about to pass its SLA",
    }[event]
    subject = f"[{queue}] {external_id} {what}"
    text = f"{subject}{': ' + detail if detail else ''}.\nOpen it: {link}"
    return Part(event=event, subject=subject, text=text, link=link)


def digest_part(*, counts: Sequence[tuple[str, int, str]], assigned: int, link: str) -> Part:
    """The daily digest: (queue slug, items waiting, link) per queue, and how many of them
    are assigned to the person."""
    total = sum(n for _, n, _ in counts)
    lines = [
        f"{total} items wait for you" + (f" ({assigned} assigned to you)." if assigned else ".")
    ]
    lines += [f"- {slug}: {n} waiting: {url}" for slug, n, url in counts]
    subject = f"Review Queue digest: {total} items waiting"
    return Part(event=Event.DIGEST, subject=subject, text="\n".join(lines), link=link)
