"""The embedded default (SQLite under var/ + the filesystem broker) starts with no server
installed and accepts a recommendation over HTTP."""

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def embedded_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env["REVIEWQUEUE_VAR_DIR"] = str(tmp_path / "var")
    env["REVIEWQUEUE_PASSWORD"] = "a long demo password"
    env["REVIEWQUEUE_OUTBOUND_ALLOWLIST"] = "127.0.0.1"
    return env


def manage(env, *args) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_embedded_default_serves_and_accepts_a_recommendation(embedded_env, tmp_path):
    env = embedded_env
    manage(env, "migrate", "--no-input", "-v0")
    manage(env, "create_user", "alice", "--role", "senior")
    manage(env, "create_user", "bob", "--role", "reviewer")
    manage(env, "apply_config", "demo/reviewqueue.toml")
    key = manage(env, "create_api_key", "support-agent").strip().splitlines()[-1]
    assert (tmp_path / "var" / "reviewqueue.sqlite3").exists()

    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        ready = json.load(urllib.request.urlopen(base + "/readyz", timeout=5))
        assert ready["checks"] == {"database": "ok", "broker": "ok"}
        body = {
            "queue": "refunds",
            "external_id": "smoke-1",
            "action": {"type": "refund.issue", "payload": {"order_id": "A-1", "amount": 40.0}},
            "confidence": 0.91,
            "risk_score": 0.42,
            "model": {"name": "m", "version": "1"},
        }
        request = urllib.request.Request(
            base + "/api/v1/recommendations",
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        response = urllib.request.urlopen(request, timeout=10)
        assert response.status == 201
        assert json.load(response)["route"] == "review"
    finally:
        server.terminate()
        server.wait(timeout=10)
