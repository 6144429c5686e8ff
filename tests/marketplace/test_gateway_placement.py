"""Several serving hosts (marketplace/gateway/placement.py): each app on one host by rendezvous hashing of its
slug, the host list from GOVMARKET_SERVING_URL or the Redis registry the hosts keep while healthy, failover to the
next host without losing the citizen's gateway session, and mutual TLS on the hop."""

from __future__ import annotations

import http.client
import json
import os
import secrets
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from werkzeug.serving import make_server

from marketplace.gateway import host_dispatch, placement
from tests.faults import conftest as faults
from tests.marketplace import test_gateway as local
from tests.marketplace.test_gateway import APPS, enter, on_app
from tests.pki import CertificateAuthority

gw, served_registry, ssc_ok = local.gw, local.served_registry, local.ssc_ok
private_redis = faults.private_redis


def test_rendezvous_places_each_app_on_one_host_and_moves_few_when_hosts_change():
    hosts = [f"https://serving-{n}:8090" for n in range(1, 4)]
    slugs = [f"app-{n}" for n in range(300)]
    first = {slug: placement.rendezvous(slug, hosts)[0] for slug in slugs}
    # The same order whatever order the list came in (every web process agrees), and every host gets a share.
    assert first == {slug: placement.rendezvous(slug, list(reversed(hosts)))[0] for slug in slugs}
    assert all(60 < list(first.values()).count(host) < 140 for host in hosts)

    # A fourth host takes about a quarter of the apps, and only apps move to it: no app moves between old hosts.
    grown = {slug: placement.rendezvous(slug, [*hosts, "https://serving-4:8090"])[0] for slug in slugs}
    moved = [slug for slug in slugs if grown[slug] != first[slug]]
    assert all(grown[slug] == "https://serving-4:8090" for slug in moved)
    assert 40 < len(moved) < 110
    # A host leaving moves only its own apps, each to the app's second choice.
    shrunk = {slug: placement.rendezvous(slug, hosts[1:])[0] for slug in slugs}
    assert {slug for slug in slugs if shrunk[slug] != first[slug]} == {s for s in slugs if first[s] == hosts[0]}
    assert all(shrunk[s] == placement.rendezvous(s, hosts)[1] for s in slugs if first[s] == hosts[0])


def test_placement_reads_the_host_list_at_most_every_few_seconds_and_puts_hosts_found_down_last():
    now = [100.0]
    reads = []

    class Source:
        def hosts(self):
            reads.append(now[0])
            return ["http://a:1", "http://b:2"]

    where = placement.Placement(Source(), cache_seconds=2, down_seconds=10, clock=lambda: now[0])
    order = where.order("echo")
    for _ in range(50):
        assert where.order("echo") == order
    assert reads == [100.0], "one read for many requests"
    now[0] += 2.5
    where.order("echo")
    assert reads == [100.0, 102.5]

    where.mark_down(order[0])
    assert where.order("echo") == [order[1], order[0]]
    now[0] += 11
    assert where.order("echo") == order, "a host found down is tried first again after down_seconds"


@pytest.mark.redis
def test_the_redis_registry_lists_hosts_that_announced_themselves_recently(private_redis):
    from redis import Redis

    now = [1000.0]
    registry = placement.RedisRegistry(Redis.from_url(private_redis.url), ttl=15, clock=lambda: now[0])
    registry.announce("https://serving-1:8090")
    now[0] += 5
    registry.announce("https://serving-2:8090/")
    assert sorted(registry.hosts()) == ["https://serving-1:8090", "https://serving-2:8090"]
    now[0] += 12  # serving-1 missed its heartbeats: 17 s since its last one
    assert registry.hosts() == ["https://serving-2:8090"]
    registry.withdraw("https://serving-2:8090")
    assert registry.hosts() == []
    with pytest.raises(ValueError, match="an https:// address"):
        registry.announce("serving-3:8090")
    with pytest.raises(ValueError, match="an https:// address"):
        registry.announce("http://serving-3:8090")
    # Whoever else writes to Redis cannot send the web (and its secret) to a plain-http host.
    registry.redis.zadd(placement.REGISTRY_KEY, {"http://intruder:8090": now[0]})
    assert registry.hosts() == []

    # A serving host announces itself only while it is healthy, and withdraws when its check fails.
    from marketplace.gateway.serving_host import Announcer

    health = [None]
    host = SimpleNamespace(health=lambda: health[0])
    announcer = Announcer(host, "https://serving-3:8090", registry)
    announcer.beat()
    assert registry.hosts() == ["https://serving-3:8090"]
    health[0] = "OperationalError: the database does not answer"
    announcer.beat()
    assert registry.hosts() == []


# -- two serving hosts over mutual TLS, in this process ----------------------------------------------------------

@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    ca = CertificateAuthority(tmp_path_factory.mktemp("pki"))
    return SimpleNamespace(ca=ca, server=ca.issue("serving", dns=("localhost",), ips=("127.0.0.1",)),
                           web=ca.issue("web", client=True))


def tls_server_context(pki) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki.ca.path))
    context.verify_mode = ssl.CERT_REQUIRED  # mutual TLS: the web must present a certificate from the CA
    context.load_cert_chain(pki.server.cert, pki.server.key)
    return context


@pytest.fixture
def two_hosts(app, pki, served_registry):
    """Two serving hosts on loopback, each https with client certificates required."""
    from marketplace.gateway.serving_host import ServingHost

    secret = secrets.token_hex(32)
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(app.config, "SERVING_SECRET", secret)
        host = ServingHost(app)
    hosts = []
    for _ in range(2):
        reached: list[str] = []

        def counted(environ, start_response, reached=reached):
            reached.append(environ.get("HTTP_X_GOVMARKET_APP"))
            return host(environ, start_response)

        server = make_server("127.0.0.1", 0, counted, threaded=True, ssl_context=tls_server_context(pki))
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        hosts.append(SimpleNamespace(url=f"https://127.0.0.1:{server.port}", server=server, thread=thread,
                                     reached=reached, running=True))
    yield SimpleNamespace(hosts=hosts, secret=secret)
    for each in hosts:
        if each.running:
            each.server.shutdown()
            each.server.server_close()


def stop(host) -> None:
    host.server.shutdown()
    host.server.server_close()  # the port refuses connections now, as a stopped serving host's does
    host.running = False


def test_failover_keeps_the_citizen_session_and_the_hop_is_mutual_tls(app, client, gw, two_hosts, pki, monkeypatch):
    from marketplace.gateway.origin import AppOrigin

    urls = [h.url for h in two_hosts.hosts]
    monkeypatch.setitem(app.config, "SERVING_URL", ",".join(urls))
    monkeypatch.setitem(app.config, "SERVING_SECRET", two_hosts.secret)
    monkeypatch.setitem(app.config, "SERVING_TLS_CA", str(pki.ca.path))
    monkeypatch.setitem(app.config, "SERVING_TLS_CERT", str(pki.web.cert))
    monkeypatch.setitem(app.config, "SERVING_TLS_KEY", str(pki.web.key))
    origin = AppOrigin(app)
    monkeypatch.setattr(host_dispatch(app), "origin", origin)
    first, second = (next(h for h in two_hosts.hosts if h.url == url) for url in placement.rendezvous("echo", urls))

    enter(client)
    for _ in range(3):
        response = on_app(client, "/hello")
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert first.reached == ["echo"] * 3 and second.reached == [], "every request to one app goes to one host"

    stop(first)
    # The same browser, the same gateway cookie: answered by the other host, no new launch needed.
    response = on_app(client, "/hello")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.json["path"] == "/hello"
    assert second.reached == ["echo"]
    assert on_app(client, "/again").status_code == 200 and second.reached == ["echo"] * 2

    stop(second)
    down = on_app(client, "/hello")
    assert down.status_code == 502 and "not answering" in down.get_data(as_text=True)


def test_serving_hosts_refuse_a_web_without_the_client_certificate(app, client, gw, two_hosts, pki, monkeypatch):
    from marketplace.gateway.origin import AppOrigin

    host = two_hosts.hosts[0]
    monkeypatch.setitem(app.config, "SERVING_URL", host.url)
    monkeypatch.setitem(app.config, "SERVING_SECRET", two_hosts.secret)
    monkeypatch.setitem(app.config, "SERVING_TLS_CA", str(pki.ca.path))  # verifies the host, but presents nothing
    monkeypatch.setattr(host_dispatch(app), "origin", AppOrigin(app))
    enter(client)
    assert on_app(client, "/hello").status_code == 502
    assert host.reached == [], "the TLS handshake failed: the serving host saw no request"

    # And the web refuses a serving host whose certificate its CA did not sign.
    other = CertificateAuthority(pki.ca.folder / "other")
    monkeypatch.setitem(app.config, "SERVING_TLS_CA", str(other.path))
    monkeypatch.setitem(app.config, "SERVING_TLS_CERT", str(pki.web.cert))
    monkeypatch.setitem(app.config, "SERVING_TLS_KEY", str(pki.web.key))
    monkeypatch.setattr(host_dispatch(app), "origin", AppOrigin(app))
    assert on_app(client, "/hello").status_code == 502 and host.reached == []


def test_the_serve_command_serves_mutual_tls_and_keeps_itself_in_the_registry(fresh_database_url, tmp_path, pki,
                                                                              private_redis):
    """``govmarket gateway serve --advertise`` under gunicorn with the SERVING_TLS_* files: announced in Redis
    while healthy, health answered over mutual TLS only, withdrawn as soon as it stops."""
    from redis import Redis

    from tests.conftest import make_app, upgrade

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    migrated = make_app(fresh_database_url, tmp_path / "migrate")
    upgrade(migrated)
    with migrated.app_context():
        from core.extensions import db

        db.engine.dispose()
    url = f"https://127.0.0.1:{port}"
    env = {key: value for key, value in os.environ.items() if not key.startswith("GOVMARKET_")}
    env.update({"DATABASE_URL": fresh_database_url, "GOVMARKET_INSTANCE_PATH": str(tmp_path),
                "GOVMARKET_SECRET_KEY": "x" * 32, "GOVMARKET_APPS_DOMAIN": APPS, "REDIS_URL": private_redis.url,
                "GOVMARKET_SERVING_SECRET": secrets.token_hex(32), "GOVMARKET_SERVING_TLS_CA": str(pki.ca.path),
                "GOVMARKET_SERVING_TLS_CERT": str(pki.server.cert), "GOVMARKET_SERVING_TLS_KEY": str(pki.server.key),
                "GOVMARKET_SERVING_ADVERTISE_URL": url})
    command = [str(Path(sys.executable).parent / "govmarket"), "gateway", "serve", "--bind", f"127.0.0.1:{port}",
               "--threads", "2"]
    wrong = subprocess.run([*command, "--advertise", f"http://127.0.0.1:{port}"], env=env, capture_output=True,
                           text=True, timeout=60)
    assert wrong.returncode != 0 and "serves https with mutual TLS" in wrong.stderr

    registry = placement.RedisRegistry(Redis.from_url(private_redis.url))
    mutual = ssl.create_default_context(cafile=str(pki.ca.path))
    mutual.load_cert_chain(pki.web.cert, pki.web.key)
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while registry.hosts() != [url]:
            assert process.poll() is None and time.monotonic() < deadline, "the serving host never announced itself"
            time.sleep(0.2)
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=mutual, timeout=30)
        conn.request("GET", "/_serving/health")
        reply = conn.getresponse()
        assert (reply.status, json.loads(reply.read())) == (200, {"status": "ok"})
        conn.close()
        anonymous = http.client.HTTPSConnection("127.0.0.1", port, timeout=30,
                                                context=ssl.create_default_context(cafile=str(pki.ca.path)))
        with pytest.raises((ssl.SSLError, ConnectionError)):  # no client certificate: no conversation at all
            anonymous.request("GET", "/_serving/health")
            anonymous.getresponse()
        anonymous.close()
    finally:
        process.terminate()
        output = process.communicate(timeout=60)[0]
    assert registry.hosts() == [], f"a stopped serving host must leave the registry at once:\n{output[-2000:]}"
    assert "announced in the registry" in output and "withdrawn from the registry" in output, output[-2000:]
