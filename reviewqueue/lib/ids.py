"""Time-ordered UUIDs (RFC 9562 version 7): new rows land at the end of the primary-key
index instead of at random places, and ids sort by creation time."""

import os
import time
import uuid


def uuid7() -> uuid.UUID:
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)


# A recommendation's id as callers hold it: the UUID, or its text from a URL or a JSON body
# (the ORM reads either; an unreadable text is simply not found).
type RecommendationId = uuid.UUID | str
# A callback delivery's id (also a UUID).
type DeliveryId = uuid.UUID | str
