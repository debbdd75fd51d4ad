"""How our authentication classes appear in the OpenAPI schema (security schemes)."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "reviewqueue.api.auth.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A source's API key: `Authorization: Bearer rq_<prefix>_<secret>`.",
        }


class PersonalTokenScheme(OpenApiAuthenticationExtension):
    target_class = "reviewqueue.api.auth.PersonalTokenAuthentication"
    name = "personalToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "A reviewer's personal token: `Authorization: Token rqp_<prefix>_<secret>`.",
        }
