"""Headers and cookies: a Content-Security-Policy with no inline script allowed on every page, and the
HTTPS settings (Secure cookies, redirect, HSTS, the proxy header) switched on from the environment."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.django_db


def test_pages_and_the_api_carry_the_policy(client):
    for path in ("/accounts/login/", "/arena/leaderboard/", "/api/leaderboard/", "/api/docs/"):
        response = client.get(path)
        policy = response["Content-Security-Policy"]
        assert (
            "script-src 'self'" in policy
            and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
        )
        assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy, path
        assert response["X-Frame-Options"] == "DENY" and response["X-Content-Type-Options"] == "nosniff"


def test_no_inline_script_or_handler_is_left_in_templates():
    inline_script = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
    handler = re.compile(r"\son[a-z]+\s*=|javascript:|hx-on", re.I)
    found = []
    for template in (ROOT / "templates").rglob("*.html"):
        for number, line in enumerate(template.read_text().splitlines(), start=1):
            if inline_script.search(line) or handler.search(line):
                found.append(f"{template.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "inline scripts or handlers (move them into static/js/):\n" + "\n".join(found)


def _settings_with(**env):
    code = (
        "import json; import config.settings as s; print(json.dumps({k: "
        "getattr(s, k, None) for k in ['SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SECURE_SSL_REDIRECT', "
        "'SECURE_HSTS_SECONDS', 'SECURE_PROXY_SSL_HEADER', 'CSRF_COOKIE_HTTPONLY']}))"
    )
    clean = {
        k: v for k, v in os.environ.items() if k not in ("HTTPS", "SECURE_PROXY_SSL_HEADER", "SECURE_COOKIES")
    }
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**clean, **env},
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_https_switches_on_secure_cookies_redirects_and_hsts():
    plain = _settings_with()
    assert plain["SESSION_COOKIE_SECURE"] is False and plain["SECURE_HSTS_SECONDS"] == 0
    assert plain["SECURE_PROXY_SSL_HEADER"] is None and plain["CSRF_COOKIE_HTTPONLY"] is True
    https = _settings_with(HTTPS="1", SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO,https")
    assert https["SESSION_COOKIE_SECURE"] and https["CSRF_COOKIE_SECURE"] and https["SECURE_SSL_REDIRECT"]
    assert https["SECURE_HSTS_SECONDS"] >= 31536000
    assert https["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]


def test_behind_a_tls_proxy_cookies_are_secure_and_plain_http_redirects(client, settings, make_user):
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 31536000
    assert client.get("/accounts/login/").status_code == 301  # plain HTTP: off to https://
    make_user("tls-user", password="pw-xxxxxxxx")
    secure = {"HTTP_X_FORWARDED_PROTO": "https"}
    page = client.get("/accounts/login/", **secure)
    assert page.status_code == 200 and "max-age=31536000" in page["Strict-Transport-Security"]
    assert page.cookies["csrftoken"]["secure"]
    signed_in = client.post("/accounts/login/", {"username": "tls-user", "password": "pw-xxxxxxxx"}, **secure)
    assert signed_in.status_code == 302 and signed_in.cookies["sessionid"]["secure"]
    assert signed_in.cookies["sessionid"]["httponly"]
