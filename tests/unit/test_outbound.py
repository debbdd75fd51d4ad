"""The outbound policy (issue 14 #3) and the signing-key rules (#12), without a network:
addresses are written in the URL or answered by a stub resolver."""

import ipaddress

import pytest

from reviewqueue.lib import outbound, signing
from reviewqueue.lib.outbound import OutboundRefused, check_url, resolve_target


class StubDNS:
    """Answers per host, used in turn (the last one repeats); records what was asked."""

    def __init__(self) -> None:
        self.answers: dict[str, list[list[str]]] = {}
        self.asked: list[str] = []

    def __setitem__(self, host: str, answers: list[list[str]]) -> None:
        self.answers[host] = list(answers)

    def resolve(self, host: str, port: int) -> list[outbound.Address]:
        self.asked.append(host)
        queue = self.answers[host]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        return [ipaddress.ip_address(a) for a in answer]


@pytest.fixture
def dns(monkeypatch):
    stub = StubDNS()
    monkeypatch.setattr(outbound, "resolve_host", stub.resolve)
    return stub


@pytest.mark.parametrize(
    "url",
    [
        "http://[64:ff9b::7f00:1]/",  # NAT64 of 127.0.0.1
        "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of the metadata address
        "http://[64:ff9b:1::a00:1]/",  # local-use NAT64 of 10.0.0.1
        "http://[64:ff9b::808:808]/",  # NAT64 of a public address: refused all the same
    ],
)
def test_nat64_addresses_are_refused(url):
    with pytest.raises(OutboundRefused):
        check_url(url, [])


@pytest.mark.parametrize(
    "url",
    [
        "http://[::127.0.0.1]/",  # IPv4-compatible loopback
        "http://[::7f00:1]/",  # the same, in hex
        "http://[::a9fe:a9fe]/",  # IPv4-compatible metadata address
        "http://[::ffff:127.0.0.1]/",  # IPv4-mapped loopback
        "http://[::ffff:10.0.0.5]/",  # IPv4-mapped private
        "http://[::ffff:0:a9fe:a9fe]/",  # IPv4-translated metadata address
        "http://[2002:7f00:1::]/",  # 6to4 around loopback
    ],
)
def test_ipv6_spellings_of_non_public_ipv4_addresses_are_refused(url):
    with pytest.raises(OutboundRefused):
        check_url(url, [])


def test_ipv6_spellings_of_public_ipv4_addresses_stay_public():
    check_url("http://[::ffff:93.184.215.14]/", [])
    check_url("https://[2606:4700::1111]:8443/", [])


def test_public_addresses_need_no_entry_on_any_port():
    check_url("https://93.184.215.14:8443/hook", [])


def test_an_entry_without_a_port_allows_80_and_443_only():
    check_url("http://127.0.0.1/a", ["127.0.0.1"])
    check_url("https://127.0.0.1/a", ["127.0.0.1"])
    check_url("http://10.1.2.3:443/", ["10.0.0.0/8"])
    for url in ("http://127.0.0.1:6379/", "http://127.0.0.1:9100/", "http://10.1.2.3:5432/"):
        with pytest.raises(OutboundRefused, match="an entry without a port allows 80 and 443"):
            check_url(url, ["127.0.0.1", "10.0.0.0/8"])


def test_an_entry_names_its_port():
    check_url("http://127.0.0.1:9100/a", ["127.0.0.1:9100"])
    check_url("http://10.1.2.3:8443/", ["10.0.0.0/8:8443"])
    check_url("http://[::1]:9000/", ["[::1]:9000"])
    check_url("http://[fd00::5]/", ["[fd00::/8]"])
    check_url("http://[fd00::5]:8080/", ["[fd00::/8]:8080"])
    check_url("http://127.0.0.1:40123/", ["127.0.0.1:*"])
    for url, allow in [
        ("http://127.0.0.1:9101/", "127.0.0.1:9100"),
        ("http://127.0.0.1/", "127.0.0.1:9100"),  # naming a port allows that port only
        ("http://[::1]:9001/", "[::1]:9000"),
        ("http://[fd00::5]:8081/", "[fd00::/8]:8080"),
    ]:
        with pytest.raises(OutboundRefused):
            check_url(url, [allow])


def test_a_mapped_spelling_is_allowed_by_its_ipv4_entry_and_port():
    check_url("http://[::ffff:127.0.0.1]:9100/", ["127.0.0.1:9100"])
    with pytest.raises(OutboundRefused):
        check_url("http://[::ffff:127.0.0.1]:9101/", ["127.0.0.1:9100"])


def test_a_malformed_entry_is_named():
    for entry in ("127.0.0.1:http", "127.0.0.1:0", "[::1:80", "[::1]x"):
        with pytest.raises(OutboundRefused, match="REVIEWQUEUE_OUTBOUND_ALLOWLIST entry"):
            check_url("http://127.0.0.1/", [entry])


def test_a_named_host_entry_allows_its_ports(dns):
    dns["hooks.internal"] = [["10.1.2.3"]]
    check_url("http://hooks.internal/x", ["hooks.internal"])
    check_url("http://hooks.internal:8080/x", ["hooks.internal:8080"])
    with pytest.raises(OutboundRefused, match=r"hooks\.internal:8080"):
        check_url("http://hooks.internal:8080/x", ["hooks.internal"])


def test_every_address_of_a_name_must_pass(dns):
    dns["mixed.example"] = [["93.184.215.14", "169.254.169.254"]]
    with pytest.raises(OutboundRefused, match=r"169\.254\.169\.254"):
        check_url("https://mixed.example/", [])


def test_the_target_carries_the_addresses_that_were_checked(dns):
    """What the sender connects to is what was checked: one answer, kept."""
    dns["rebind.example"] = [["93.184.215.14"], ["127.0.0.1"]]
    target = resolve_target("https://rebind.example/hook", [])
    assert target.addresses == (ipaddress.ip_address("93.184.215.14"),)
    assert (target.host, target.port) == ("rebind.example", 443)
    assert dns.asked == ["rebind.example"]  # resolved once
    outbound.check_peer("93.184.215.14", target)
    with pytest.raises(OutboundRefused, match="not an address checked"):
        outbound.check_peer("127.0.0.1", target)


def test_an_unresolvable_host_is_a_resolve_failure(monkeypatch):
    def fail(host, port):
        raise OSError("temporary failure in name resolution")

    monkeypatch.setattr(outbound, "resolve_host", fail)
    with pytest.raises(outbound.ResolveFailed):
        resolve_target("https://down.example/", [])


# --- Signing keys (#12) --------------------------------------------------------------------


def test_an_empty_or_unset_signing_secret_is_a_problem_naming_the_variable(monkeypatch):
    monkeypatch.delenv("HOOK_SECRET", raising=False)
    assert "never sent unsigned" in signing.signing_secret_problem("")
    assert "HOOK_SECRET" in signing.signing_secret_problem("HOOK_SECRET")
    monkeypatch.setenv("HOOK_SECRET", "")
    assert "HOOK_SECRET" in signing.signing_secret_problem("HOOK_SECRET")
    monkeypatch.setenv("HOOK_SECRET", "a secret of its own")
    assert signing.signing_secret_problem("HOOK_SECRET") is None


def test_application_secrets_never_sign(monkeypatch, settings):
    settings.SECRET_KEY = "the-django-secret-key-0123456789-abcdefghijklmnop"
    settings.REVIEWQUEUE_METRICS_TOKEN = "the-metrics-token"
    monkeypatch.setenv("DJANGO_SECRET_KEY", settings.SECRET_KEY)
    assert "application's own secrets" in signing.signing_secret_problem("DJANGO_SECRET_KEY")
    for value in (settings.SECRET_KEY, settings.REVIEWQUEUE_METRICS_TOKEN):
        monkeypatch.setenv("HOOK_SECRET", value)
        problem = signing.signing_secret_problem("HOOK_SECRET")
        assert problem is not None and "HOOK_SECRET" in problem
        assert value not in problem
