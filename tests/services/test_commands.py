"""The setup commands as an operator runs them."""

import io

import pytest
from django.core.management import CommandError, call_command

from reviewqueue.lib import keys
from reviewqueue.models import ApiKey, AuditEvent, Membership, User
from tests.factories import QueueFactory, SourceFactory
from tests.services.test_setup import GOOD


def test_create_api_key_prints_the_key_alone_on_the_last_line_and_stores_its_hash(db):
    SourceFactory(name="refund-bot")
    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_key", "refund-bot", stdout=out, stderr=err)
    plain = out.getvalue().strip().splitlines()[-1]
    key = ApiKey.objects.get()
    assert plain.startswith("rq_") and key.key_hash == keys.hash_key(plain)
    assert plain not in (key.prefix, key.key_hash) and keys.parse_prefix(plain, "rq") == key.prefix
    assert AuditEvent.objects.filter(action="api_key.created").exists()


def test_create_api_key_for_an_unknown_source_fails_clearly(db):
    with pytest.raises(CommandError, match="No source named 'ghost'"):
        call_command("create_api_key", "ghost")


def test_create_user_reads_the_password_from_the_environment(db, monkeypatch):
    QueueFactory(slug="refunds")
    monkeypatch.setenv("REVIEWQUEUE_PASSWORD", "a long demo password")
    call_command(
        "create_user", "bob", "--role", "senior", "--queues", "refunds", stdout=io.StringIO()
    )
    bob = User.objects.get(username="bob")
    assert bob.role == "senior" and bob.check_password("a long demo password")
    assert Membership.objects.get(user=bob).role == "senior"
    assert not bob.is_staff


def test_create_user_admin_gets_the_django_admin(db, monkeypatch):
    monkeypatch.setenv("REVIEWQUEUE_PASSWORD", "a long demo password")
    call_command("create_user", "root", "--role", "admin", stdout=io.StringIO())
    assert User.objects.get(username="root").is_superuser


def test_create_user_refuses_a_weak_password_and_unknown_queues(db, monkeypatch):
    monkeypatch.setenv("REVIEWQUEUE_PASSWORD", "123")
    with pytest.raises(CommandError, match="too short"):
        call_command("create_user", "bob", "--role", "reviewer")
    monkeypatch.setenv("REVIEWQUEUE_PASSWORD", "a long demo password")
    with pytest.raises(CommandError, match="Unknown queue"):
        call_command("create_user", "bob", "--role", "reviewer", "--queues", "nope")
    assert not User.objects.exists()


def test_create_user_without_password_or_terminal_fails_clearly(db, monkeypatch):
    monkeypatch.delenv("REVIEWQUEUE_PASSWORD", raising=False)
    monkeypatch.setattr("getpass.getpass", lambda prompt: (_ for _ in ()).throw(EOFError()))
    with pytest.raises(CommandError, match="REVIEWQUEUE_PASSWORD"):
        call_command("create_user", "bob", "--role", "reviewer")


def test_apply_config_command_names_file_and_problem(db, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(GOOD.replace('stage = "approval"', 'stage = "yolo"'))
    with pytest.raises(CommandError) as info:
        call_command("apply_config", str(path))
    assert f"{path}: queues[0].stage: unknown stage 'yolo'" in str(info.value)
    assert "nothing was changed" in str(info.value)


def test_apply_config_command_reports_what_it_applied(db, tmp_path, monkeypatch, settings):
    settings.REVIEWQUEUE_OUTBOUND_ALLOWLIST = ["127.0.0.1:9100"]
    monkeypatch.setenv("REFUND_WEBHOOK_SECRET", "the refund webhook's signing key")
    monkeypatch.setenv("REFUND_BOT_CALLBACK_SECRET", "the refund bot's signing key")
    monkeypatch.setenv("REVIEWQUEUE_PASSWORD", "a long demo password")
    call_command("create_user", "alice", "--role", "senior", stdout=io.StringIO())
    path = tmp_path / "good.toml"
    path.write_text(GOOD)
    out = io.StringIO()
    call_command("apply_config", str(path), stdout=out)
    assert "1 action types, 1 queues, 1 sources, 1 members" in out.getvalue()
    assert "Changed queue refunds: member alice: None -> 'senior'" in out.getvalue()
    path.write_text(GOOD.replace("sla_minutes = 60", "sla_minutes = 90"))
    out = io.StringIO()
    call_command("apply_config", str(path), stdout=out)
    assert out.getvalue().splitlines()[1:] == ["Changed queue refunds: sla_minutes: 60 -> 90"]
    out = io.StringIO()
    call_command("apply_config", str(path), stdout=out)
    assert out.getvalue().splitlines()[1:] == ["Nothing changed."]


def test_apply_config_on_a_missing_file_fails_clearly(db):
    with pytest.raises(CommandError, match="cannot read"):
        call_command("apply_config", "/nonexistent.toml")


def test_apply_config_command_names_an_unset_signing_key_variable(
    db, tmp_path, monkeypatch, settings
):
    """Finding 12: a webhook whose key variable is unset would be sent unsigned."""
    settings.REVIEWQUEUE_OUTBOUND_ALLOWLIST = ["127.0.0.1:9100"]
    monkeypatch.delenv("REFUND_WEBHOOK_SECRET", raising=False)
    monkeypatch.setenv("REFUND_BOT_CALLBACK_SECRET", "the refund bot's signing key")
    path = tmp_path / "good.toml"
    path.write_text(GOOD)
    with pytest.raises(CommandError) as info:
        call_command("apply_config", str(path))
    assert (
        f"{path}: action_types[0].signing_secret_env: the environment variable "
        "REFUND_WEBHOOK_SECRET"
    ) in str(info.value)
    assert "nothing was changed" in str(info.value)


def test_create_user_records_a_role_change_with_before_and_after(db, monkeypatch):
    QueueFactory(slug="refunds")
    monkeypatch.setenv("REVIEWQUEUE_PASSWORD", "a long demo password")
    call_command(
        "create_user", "bob", "--role", "reviewer", "--queues", "refunds", stdout=io.StringIO()
    )
    call_command(
        "create_user", "bob", "--role", "senior", "--queues", "refunds", stdout=io.StringIO()
    )
    event = AuditEvent.objects.latest("id")
    assert event.action == "user.updated"
    assert event.data["changes"] == {
        "role": {"before": "reviewer", "after": "senior"},
        "password": {"changed": True},
        "member of refunds": {"before": "reviewer", "after": "senior"},
    }
