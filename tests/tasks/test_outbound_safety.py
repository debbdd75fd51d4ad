"""Issue 14's outbound findings, each as the attack: DNS rebinding (#3), a dripping target
(#6), unsigned requests (#12) and a target's error body in front of sources and reviewers
(#13). No traffic goes anywhere but 127.0.0.1: connections to any other address are recorded
and refused by a guard around socket.create_connection."""

import itertools
import shutil
import socket
import ssl
import subprocess
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from reviewqueue.executors import http as http_executor
from reviewqueue.models import (
    ActionType,
    AuditEvent,
    CallbackDelivery,
    Execution,
    ExecutionAttempt,
    Source,
)
from reviewqueue.services.callbacks import callback_deliver
from reviewqueue.services.execution import execution_run, executions_due
from reviewqueue.tasks import outbox_sweep
from tests.tasks import test_execution

approve = test_execution.approve
wired = test_execution.wired  # the fixture: refunds' webhook and refund-bot's callbacks

PUBLIC = "93.184.215.14"  # a public address: checked, never actually connected to


class Network:
    """socket.getaddrinfo answers for test host names, in turn (the last one repeats), and a
    guard on socket.create_connection: it records every address connected to and refuses
    all but 127.0.0.1, unless `redirect` sends a connection elsewhere."""

    def __init__(self, monkeypatch):
        self.answers: dict[str, list[str]] = {}
        self.connects: list[tuple[str, int]] = []
        self.redirect: dict[str, str] = {}
        real_getaddrinfo, real_connect = socket.getaddrinfo, socket.create_connection

        def getaddrinfo(host, port, *args, **kwargs):
            if host in self.answers:
                queue = self.answers[host]
                ip = queue.pop(0) if len(queue) > 1 else queue[0]
                return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))]
            return real_getaddrinfo(host, port, *args, **kwargs)

        def create_connection(address, *args, **kwargs):
            host, port = address[0], address[1]
            ip = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0][4][0]
            self.connects.append((ip, port))
            ip = self.redirect.get(ip, ip)
            if ip != "127.0.0.1":
                raise ConnectionRefusedError(f"test guard: never connect to {ip}")
            return real_connect((ip, port), *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
        monkeypatch.setattr(socket, "create_connection", create_connection)


@pytest.fixture
def network(monkeypatch):
    return Network(monkeypatch)


def point_at(world, url: str, **fields) -> None:
    ActionType.objects.filter(pk=world.action_type.pk).update(url=url, **fields)


def run(rec) -> Execution:
    execution = Execution.objects.get(recommendation=rec)
    execution_run(execution_id=execution.pk)
    execution.refresh_from_db()
    return execution


# --- #3 DNS rebinding ----------------------------------------------------------------------


def test_a_rebinding_host_is_connected_at_the_address_that_was_checked(
    wired, sink, network, settings
):
    """The host answers a public address to the check, then loopback to whoever asks next:
    the request goes to the checked address (refused by the guard here), never to loopback."""
    settings.REVIEWQUEUE_OUTBOUND_ALLOWLIST = []  # loopback is not allowed
    network.answers["rebind.test"] = [PUBLIC, "127.0.0.1"]
    point_at(wired, f"http://rebind.test:{sink.port}/actions/refund")
    execution = run(approve(wired))
    assert sink.to("/actions/refund") == []
    assert network.connects == [(PUBLIC, sink.port)]
    assert execution.status == "retrying" and execution.last_error.startswith("network error")


def test_a_connection_that_lands_elsewhere_is_dropped_before_a_byte_is_sent(
    wired, sink, network, settings
):
    """The check passed for a public address, but the socket is connected to loopback (a
    resolver or NAT in the way): the peer is checked again and nothing is sent."""
    settings.REVIEWQUEUE_OUTBOUND_ALLOWLIST = []
    network.answers["landing.test"] = [PUBLIC]
    network.redirect[PUBLIC] = "127.0.0.1"
    point_at(wired, f"http://landing.test:{sink.port}/actions/refund")
    execution = run(approve(wired))
    time.sleep(0.2)  # a request, had one been sent, would have reached the sink by now
    assert sink.to("/actions/refund") == []
    assert network.connects == [(PUBLIC, sink.port)]
    assert execution.status == "dead"
    assert execution.last_error == "refused by the outbound policy"
    attempt = ExecutionAttempt.objects.get(execution=execution)
    assert "127.0.0.1" in attempt.detail and "not an address checked" in attempt.detail


@pytest.fixture
def tls_sink(tmp_path):
    """An HTTPS server on 127.0.0.1 with a certificate for hooks.rebind.test from a test CA;
    it records the SNI name and the Host header of each request."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
    (tmp_path / "san.ext").write_text("subjectAltName=DNS:hooks.rebind.test\n")
    for step in (
        f"req -x509 {ec} -keyout ca.key -out ca.pem -days 2 -subj /CN=test-ca",
        f"req {ec} -keyout leaf.key -out leaf.csr -subj /CN=hooks.rebind.test",
        "x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out leaf.pem"
        " -days 2 -extfile san.ext",
    ):
        subprocess.run(["openssl", *step.split()], cwd=tmp_path, check=True, capture_output=True)
    seen: dict[str, list[str]] = {"sni": [], "host": []}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            seen["host"].append(self.headers["Host"])
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "leaf.pem", tmp_path / "leaf.key")
    context.sni_callback = lambda sock, name, ctx: seen["sni"].append(name)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], tmp_path / "ca.pem", seen
    server.shutdown()
    server.server_close()


def test_https_to_a_pinned_address_keeps_the_name_for_sni_host_and_the_certificate(
    wired, tls_sink, network, settings, monkeypatch
):
    port, ca, seen = tls_sink
    settings.REVIEWQUEUE_OUTBOUND_ALLOWLIST = [f"127.0.0.1:{port}"]
    network.answers["hooks.rebind.test"] = ["127.0.0.1", "10.9.9.9"]
    monkeypatch.setattr(
        http_executor, "_ssl_context", lambda: ssl.create_default_context(cafile=str(ca))
    )
    point_at(wired, f"https://hooks.rebind.test:{port}/actions/refund")
    execution = run(approve(wired))
    assert execution.status == "succeeded", execution.last_error
    assert seen == {"sni": ["hooks.rebind.test"], "host": [f"hooks.rebind.test:{port}"]}
    assert network.connects == [("127.0.0.1", port)]


@pytest.fixture
def keepalive_sink():
    """An HTTP/1.1 server on 127.0.0.1 that keeps connections open; it records, per
    request, the client's port (one port: one connection)."""
    ports: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            ports.append(self.client_address[1])
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], ports
    server.shutdown()
    server.server_close()


def test_a_kept_connection_is_reused_only_for_the_addresses_it_was_checked_for(
    wired, keepalive_sink, network, settings
):
    """Executions to one target reuse one connection while every check allows the address it
    was made to. When DNS answers another address, the call does not reuse it: it connects
    to the newly checked address, and its peer is checked again (here a NAT sends it to
    loopback, so nothing is sent)."""
    port, ports = keepalive_sink
    settings.REVIEWQUEUE_OUTBOUND_ALLOWLIST = [f"127.0.0.0/8:{port}"]
    network.answers["keep.test"] = ["127.0.0.1"]
    point_at(wired, f"http://keep.test:{port}/actions/refund")
    for n in range(3):
        assert run(approve(wired, external_id=f"keep-{n}")).status == "succeeded"
    assert len(ports) == 3 and len(set(ports)) == 1
    assert network.connects == [("127.0.0.1", port)]

    network.answers["keep.test"] = ["127.0.0.2"]
    network.redirect["127.0.0.2"] = "127.0.0.1"
    execution = run(approve(wired, external_id="keep-moved"))
    assert network.connects == [("127.0.0.1", port), ("127.0.0.2", port)]
    assert execution.status == "dead"
    assert execution.last_error == "refused by the outbound policy"
    assert len(ports) == 3


# --- #6 A slow target ----------------------------------------------------------------------


def test_a_dripping_target_never_has_two_attempts_of_one_action_in_flight(
    wired, sink, start_worker
):
    """The target sends a header line every 0.2 s and never finishes: every read is quick,
    so per-read timeouts never fire. Each attempt ends at its deadline (the action type's 2 s
    timeout), before its lease, while the sweep runs all the time; no attempt starts while
    another is in flight, and every started attempt counts toward max_attempts (4)."""
    Source.objects.filter(pk=wired.source.pk).update(callback_url="")  # only the action drips
    wired.source.refresh_from_db()
    sink.drip, sink.drip_for = 0.2, 12.0
    rec = approve(wired)
    Execution.objects.filter(recommendation=rec).update(max_attempts=4)
    execution = Execution.objects.get(recommendation=rec)
    start_worker(
        pool="prefork", concurrency=2, extra_env={"REVIEWQUEUE_RUNNING_GRACE_SECONDS": "2"}
    )
    give_up = time.monotonic() + 90
    while execution.status not in ("dead", "succeeded") and time.monotonic() < give_up:
        outbox_sweep()  # what beat does every 10 s, here all the time
        time.sleep(0.2)
        execution.refresh_from_db()
    requests = sink.to("/actions/refund")
    settle = time.monotonic() + 10
    while any(r.ended == 0.0 for r in requests) and time.monotonic() < settle:
        time.sleep(0.05)
    spans = sorted((r.started, r.ended or float("inf")) for r in requests)
    for (_, first_end), (second_start, _) in itertools.pairwise(spans):
        assert first_end <= second_start, f"two attempts in flight at once: {spans}"
    for started, ended in spans:
        assert ended - started < 2 + 1.5, f"an attempt outlived its deadline: {spans}"
    assert execution.status == "dead" and execution.last_error.startswith("timeout")
    assert execution.attempts == len(requests) == 4
    outcomes = list(
        ExecutionAttempt.objects.filter(execution=execution)
        .order_by("number")
        .values_list("outcome", flat=True)
    )
    assert outcomes == ["retry", "retry", "retry", "dead"]


def _lose_attempt(execution: Execution, number: int) -> None:
    """What a worker killed during attempt `number` leaves: running, its lease over."""
    Execution.objects.filter(pk=execution.pk).update(
        status="running",
        attempts=number,
        next_attempt_at=timezone.now() - timedelta(seconds=1),
    )
    ExecutionAttempt.objects.create(execution=execution, number=number)


def test_a_lost_attempt_is_closed_and_counted(wired, sink):
    rec = approve(wired)
    execution = Execution.objects.get(recommendation=rec)
    _lose_attempt(execution, 1)
    assert execution.pk in executions_due()
    assert run(rec).status == "succeeded"
    assert list(
        ExecutionAttempt.objects.filter(execution=execution)
        .order_by("number")
        .values_list("number", "outcome")
    ) == [(1, "lost"), (2, "succeeded")]


def test_a_lost_last_attempt_ends_dead_without_sending_again(wired, sink):
    rec = approve(wired)
    execution = Execution.objects.get(recommendation=rec)
    _lose_attempt(execution, execution.max_attempts)
    assert run(rec).status == "dead"
    assert sink.to("/actions/refund") == []
    execution.refresh_from_db()
    assert execution.attempts == execution.max_attempts and "lost" in execution.last_error
    assert not ExecutionAttempt.objects.filter(finished_at__isnull=True).exists()
    assert execution.pk not in executions_due()


def test_at_most_64_kib_of_a_response_body_is_kept(wired, sink):
    sink.answer(400)
    sink.body = b"x" * (1024 * 1024)
    execution = run(approve(wired))
    attempt = ExecutionAttempt.objects.get(execution=execution)
    assert len(attempt.detail) == 64 * 1024
    assert execution.last_error == "HTTP 400 Bad Request"


# --- #12 Never unsigned ----------------------------------------------------------------------


def test_an_unset_signing_secret_sends_nothing_and_says_which_variable(wired, sink, monkeypatch):
    monkeypatch.delenv("SINK_SECRET")
    execution = run(approve(wired))
    assert sink.to("/actions/refund") == []
    assert execution.status == "dead"
    assert "SINK_SECRET" in execution.last_error and "not set" in execution.last_error
    assert AuditEvent.objects.filter(action="execution.dead").exists()


def test_an_empty_signing_secret_env_sends_nothing(wired, sink):
    ActionType.objects.filter(pk=wired.action_type.pk).update(signing_secret_env="")
    execution = run(approve(wired))
    assert sink.to("/actions/refund") == []
    assert execution.status == "dead" and "unsigned" in execution.last_error


@pytest.mark.parametrize("which", ["SECRET_KEY", "REVIEWQUEUE_METRICS_TOKEN"])
def test_an_application_secret_never_signs_a_webhook(wired, sink, monkeypatch, settings, which):
    settings.REVIEWQUEUE_METRICS_TOKEN = "metrics-token-for-this-test"
    value = getattr(settings, which)
    monkeypatch.setenv("SINK_SECRET", value)
    execution = run(approve(wired))
    assert sink.to("/actions/refund") == []
    assert execution.status == "dead" and "SINK_SECRET" in execution.last_error
    assert value not in execution.last_error


def test_django_secret_key_by_name_never_signs(wired, sink, monkeypatch):
    monkeypatch.setenv("DJANGO_SECRET_KEY", "whatever-it-holds")
    ActionType.objects.filter(pk=wired.action_type.pk).update(
        signing_secret_env="DJANGO_SECRET_KEY"
    )
    execution = run(approve(wired))
    assert sink.to("/actions/refund") == []
    assert execution.status == "dead" and "DJANGO_SECRET_KEY" in execution.last_error


def test_a_callback_without_a_usable_secret_is_dead_and_says_why(wired, sink, monkeypatch):
    monkeypatch.setenv("CALLBACK_SECRET", "")
    Source.objects.filter(pk=wired.source.pk).update(signing_secret_env="CALLBACK_SECRET")
    wired.source.refresh_from_db()
    approve(wired)
    delivery = CallbackDelivery.objects.get(event_type="decision.made")
    assert callback_deliver(delivery_id=delivery.pk) == "dead"
    assert sink.to("/callbacks") == []
    delivery.refresh_from_db()
    assert "CALLBACK_SECRET" in delivery.last_error


# --- #13 The target's words stay with admins -------------------------------------------------

LEAK = b'{"error": "declined", "trace": "db-7.corp.internal:5432 user=svc_refunds"}'


def test_a_targets_error_body_is_shown_to_admins_only(wired, people, sink, client):
    sink.answer(400)
    sink.body = LEAK
    rec = approve(wired)
    execution = run(rec)
    assert execution.last_error == "HTTP 400 Bad Request"
    api = wired.client().get(f"/api/v1/recommendations/{rec.pk}")
    assert api.json()["execution"]["last_error"] == "HTTP 400 Bad Request"
    assert b"db-7.corp.internal" not in api.content
    for event in AuditEvent.objects.filter(recommendation=rec):
        assert "db-7.corp.internal" not in str(event.data)
    for delivery in CallbackDelivery.objects.filter(recommendation=rec):
        assert "db-7.corp.internal" not in str(delivery.body)
    client.force_login(wired.reviewer)
    page = client.get(f"/recommendations/{rec.pk}/")
    assert page.status_code == 200
    assert b"HTTP 400 Bad Request" in page.content and b"db-7.corp.internal" not in page.content
    client.force_login(people.admin)
    page = client.get(f"/recommendations/{rec.pk}/")
    assert b"db-7.corp.internal" in page.content
