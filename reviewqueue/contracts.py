"""JSON Schemas of the public interface (v1). The ingest schema validates requests and the
same dicts document the API in OpenAPI 3.1 (drf-spectacular takes them as raw schemas)."""

from typing import Any

_TEXT = {"type": "string", "maxLength": 200}
_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}

INGEST_ITEM: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["queue", "external_id", "action", "confidence", "risk_score", "model"],
    "properties": {
        "queue": {"type": "string", "minLength": 1, "maxLength": 100},
        "external_id": {"type": "string", "minLength": 1, "maxLength": 200},
        "action": {
            "type": "object",
            "additionalProperties": False,
            "required": ["type", "payload"],
            "properties": {
                "type": {"type": "string", "minLength": 1, "maxLength": 100},
                "payload": {"type": "object"},
            },
        },
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "risk_score": {"type": "number", "minimum": 0, "maximum": 1},
        "rationale": {"type": "string", "maxLength": 20000},
        "evidence": {
            "type": "array",
            "maxItems": 50,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["title"],
                "properties": {
                    "title": {"type": "string", "maxLength": 500},
                    "url": {
                        "type": "string",
                        "maxLength": 2000,
                        "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://[^\\s]+$",
                        "x-message": "Must be an http:// or https:// URL.",
                    },
                    "snippet": {"type": "string", "maxLength": 5000},
                },
            },
        },
        "model": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name", "version"],
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 200},
                "version": {"type": "string", "minLength": 1, "maxLength": 200},
            },
        },
        "prompt_version": _TEXT,
        "priority": {"type": "integer", "minimum": -1000, "maximum": 1000},
        "expires_at": {"type": ["string", "null"], "format": "date-time", "maxLength": 64},
        "metadata": {"type": "object"},
    },
}

INGEST_BATCH: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["items"],
    "properties": {
        "items": {"type": "array", "minItems": 1, "maxItems": 1000, "items": INGEST_ITEM}
    },
}

# What a person decided: a reviewer's decision, and a source's human outcome in shadow.
OUTCOME_BODY: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["outcome"],
    "properties": {
        "outcome": {"type": "string", "enum": ["approve", "modify", "reject"]},
        "payload": {"type": ["object", "null"]},
        "reason_code": {"type": "string", "maxLength": 100},
        "comment": {"type": "string", "maxLength": 5000},
    },
}

DECISION: dict[str, Any] = {
    "type": ["object", "null"],
    "properties": {
        "kind": {"type": "string", "enum": ["human", "policy", "external"]},
        "outcome": {"type": "string", "enum": ["approve", "modify", "reject"]},
        "payload": {"type": ["object", "null"]},
        "payload_hash": {"type": "string"},
        "diff": {"type": "array", "items": {"type": "object"}},
        "is_cosmetic": {"type": ["boolean", "null"]},
        "reason_code": {"type": "string"},
        "comment": {"type": "string"},
        "decided_at": {"type": "string", "format": "date-time"},
        "reviewer": {"type": ["string", "null"]},
        "bulk": {"type": "boolean", "description": "Decided in a bulk decision."},
    },
}

EXECUTION: dict[str, Any] = {
    "type": ["object", "null"],
    "properties": {
        "status": {"type": "string"},
        "attempts": {"type": "integer"},
        "last_error": {"type": "string"},
        "idempotency_key": {"type": "string"},
        "finished_at": _NULLABLE_TIME,
    },
}

RECOMMENDATION: dict[str, Any] = {
    "type": "object",
    "required": ["id", "queue", "external_id", "status", "route", "created_at"],
    "properties": {
        "id": {"type": "string"},
        "queue": {"type": "string"},
        "external_id": {"type": "string"},
        "status": {
            "type": "string",
            "enum": [
                "shadow",
                "pending",
                "in_review",
                "escalated",
                "decided",
                "auto_approved",
                "expired",
            ],
        },
        "route": {"type": "string", "enum": ["review", "auto", "escalated", "shadow"]},
        "action": {
            "type": "object",
            "properties": {"type": {"type": "string"}, "payload": {"type": "object"}},
        },
        "confidence": {"type": "number"},
        "risk_score": {"type": "number"},
        "rationale": {"type": "string"},
        "evidence": {"type": "array", "items": {"type": "object"}},
        "model": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "version": {"type": "string"}},
        },
        "prompt_version": {"type": "string"},
        "priority": {"type": "integer"},
        "expires_at": _NULLABLE_TIME,
        "metadata": {"type": "object"},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
        "lease_expires_at": _NULLABLE_TIME,
        "due_at": {
            **_NULLABLE_TIME,
            "description": "When the queue's SLA says it should be decided (null: no SLA).",
        },
        "overdue": {"type": "boolean", "description": "Open and past its due_at."},
        "escalated_at": {
            **_NULLABLE_TIME,
            "description": "When it was sent to the senior reviewers (null: never).",
        },
        "assigned_to": {
            "type": ["string", "null"],
            "description": "The username of the member it is assigned to (null: nobody).",
        },
        "reviewers_needed": {
            "type": "integer",
            "minimum": 1,
            "maximum": 3,
            "description": "Consensus: how many different reviewers vote on it (its queue's "
            "reviewers_per_item when it arrived). While short of votes a decision is a vote and "
            "the item stays `pending` (`shadow` in blind review) with no `decision`; agreeing "
            "votes make the decision, disagreeing ones escalate it to senior reviewers.",
        },
        "flags": {
            "type": "array",
            "description": "Why the item waits for people although its stage could have "
            "executed it; empty when none.",
            "items": {
                "type": "object",
                "required": ["kind", "detail"],
                "properties": {
                    "kind": {
                        "type": "string",
                        "enum": ["risk_ceiling", "confidence_floor", "outlier", "volume"],
                    },
                    "detail": {"type": "string"},
                },
            },
        },
        "decision": DECISION,
        "execution": EXECUTION,
    },
}

RECOMMENDATION_LIST: dict[str, Any] = {
    "type": "object",
    "properties": {
        "results": {"type": "array", "items": RECOMMENDATION},
        "next": {"type": ["string", "null"]},
    },
}

BATCH_RESULT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "results": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["index", "status"],
                "properties": {
                    "index": {"type": "integer"},
                    "status": {"type": "integer"},
                    "id": {"type": "string"},
                    "route": {"type": "string"},
                    "detail": {"type": "string"},
                    "errors": {"type": "object", "additionalProperties": {"type": "string"}},
                },
            },
        }
    },
}

PROBLEM: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
