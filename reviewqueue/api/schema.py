"""OpenAPI documentation shared by every API view, declared once.

- `Problem`: the RFC 9457 body of every error (contracts.PROBLEM), one component, always
  served as `application/problem+json`.
- `ProblemAutoSchema`: besides the statuses a view declares, every operation documents the
  errors any of them can answer (401 without valid credentials, 503 while the database is
  unreachable; 400, 413 and 415 when it reads a JSON body; 404 for a `?format=` that names
  none of its renderers, as DRF answers), and `Retry-After` on 429 and 503.
- The two authentication schemes: a source's API key (`Authorization: Bearer ...`) and a
  person's token (`Authorization: Token ...`).

ProblemAutoSchema is REST_FRAMEWORK's DEFAULT_SCHEMA_CLASS (a view-level `schema = ...` would
not do: `@extend_schema` on a method subclasses the default class, not the view's); loading
it registers the extensions below.
"""

from typing import Any

from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerExtension,
)
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.settings import api_settings

from reviewqueue import contracts
from reviewqueue.api.errors import PROBLEM_CONTENT_TYPE

# Statuses every operation may answer, whatever it does.
ALWAYS = (401, 503)
# ...and every operation that reads a JSON body: invalid, too large, not JSON.
WITH_BODY = (400, 413, 415)


class ProblemSerializer(serializers.Serializer[Any]):
    """Documentation only: stands for contracts.PROBLEM so it becomes one named component."""


class ProblemSchemaExtension(OpenApiSerializerExtension):
    target_class = ProblemSerializer

    def get_name(self, auto_schema: AutoSchema, direction: Any) -> str:
        return "Problem"

    def map_serializer(self, auto_schema: AutoSchema, direction: Any) -> dict[str, Any]:
        return contracts.PROBLEM


PROBLEM = OpenApiResponse(
    ProblemSerializer, description="RFC 9457 problem details (application/problem+json)"
)


def problems(*statuses: int) -> dict[Any, OpenApiResponse]:
    """`extend_schema(responses=...)` entries for these error statuses."""
    return {(status, PROBLEM_CONTENT_TYPE): PROBLEM for status in statuses}


RETRY_AFTER = {
    "description": "Seconds to wait before trying again.",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
}


class ProblemAutoSchema(AutoSchema):
    # get_operation, not get_response_serializers: `@extend_schema(responses=...)` overrides
    # the latter in a subclass without calling it, but calls this one.
    def get_operation(self, *args: Any, **kwargs: Any) -> Any:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:  # excluded from the schema
            return None
        problem_ref = self.resolve_serializer(ProblemSerializer, "response").ref
        responses = operation.setdefault("responses", {})
        common = ALWAYS + (WITH_BODY if "requestBody" in operation else ())
        if any(
            p.get("in") == "query" and p.get("name") == api_settings.URL_FORMAT_OVERRIDE
            for p in operation.get("parameters", [])
        ):
            common += (404,)
        for status in common:
            responses.setdefault(
                str(status),
                {
                    "description": PROBLEM.description,
                    "content": {PROBLEM_CONTENT_TYPE: {"schema": problem_ref}},
                },
            )
        for code in ("429", "503"):
            if code in responses:
                responses[code].setdefault("headers", {})["Retry-After"] = RETRY_AFTER
        return operation


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "reviewqueue.api.auth.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A source's API key (`manage.py create_api_key`).",
        }


class PersonalTokenScheme(OpenApiAuthenticationExtension):
    target_class = "reviewqueue.api.auth.PersonalTokenAuthentication"
    name = "personalToken"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <personal token>` (`manage.py create_token`).",
        }
