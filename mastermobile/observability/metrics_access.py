"""Who may read Prometheus metrics: one policy for the web app's ``/metrics`` and the worker's exporter.

Metrics name routes, queues, error rates and the database's load; they are
served to GET and HEAD only (405 otherwise), and only to a caller whose
address (``REMOTE_ADDR``, never ``X-Forwarded-For``) is in
``METRICS_ALLOWED_IPS`` (loopback by default) or who sends
``Authorization: Bearer <METRICS_TOKEN>``.  Anyone else gets 403 and no
metric.
"""

from __future__ import annotations

import hmac
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from django.conf import settings
from django.db import connections
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, HttpResponseNotAllowed
from django.views.decorators.csrf import csrf_exempt
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

from mastermobile.config import AppConfig
from mastermobile.http import client_address
from mastermobile.observability.collectors import metrics_registry
from mastermobile.q import QUEUE_NAME

ALLOWED_METHODS = ("GET", "HEAD")
REFUSED = "Forbidden: metrics are served to METRICS_ALLOWED_IPS or with the METRICS_TOKEN bearer token.\n"


@dataclass(frozen=True)
class MetricsAccess:
    networks: tuple[IPv4Network | IPv6Network, ...]
    token: str = ""

    @classmethod
    def from_config(cls, config: AppConfig) -> MetricsAccess:
        return cls(
            networks=tuple(ip_network(value) for value in config.metrics_allowed_ips), token=config.metrics_token
        )

    def allows(self, remote_addr: str | None, authorization: str | None) -> bool:
        """True for a caller from an allowed network or with the right bearer token."""
        return self._has_token(authorization) or self._from_allowed_network(remote_addr)

    def _has_token(self, authorization: str | None) -> bool:
        if not self.token or not authorization:
            return False
        scheme, _, value = authorization.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), self.token.encode())

    def _from_allowed_network(self, remote_addr: str | None) -> bool:
        try:
            address = ip_address((remote_addr or "").split("%")[0])
        except ValueError:
            return False
        # A dual-stack socket reports IPv4 callers as ::ffff:a.b.c.d.
        address = getattr(address, "ipv4_mapped", None) or address
        return any(address.version == network.version and address in network for network in self.networks)


# Nothing here changes state; exempt so that POST & co. get 405, not the CSRF failure page.
@csrf_exempt
def metrics_view(request: HttpRequest) -> HttpResponse:
    """``/metrics`` of the web app: :func:`metrics_registry` behind :class:`MetricsAccess`."""
    if request.method not in ALLOWED_METHODS:
        return HttpResponseNotAllowed(ALLOWED_METHODS)
    access = MetricsAccess.from_config(settings.APP_CONFIG)
    if not access.allows(client_address(request), request.headers.get("Authorization")):
        return HttpResponseForbidden(REFUSED, content_type="text/plain; charset=utf-8")
    return HttpResponse(generate_latest(metrics_registry(QUEUE_NAME)), content_type=CONTENT_TYPE_LATEST)


def metrics_wsgi_app(registry: CollectorRegistry, access: MetricsAccess) -> Callable:
    """The worker exporter's WSGI app: prometheus_client's behind :class:`MetricsAccess`."""
    export = make_wsgi_app(registry)

    def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ["REQUEST_METHOD"] not in ALLOWED_METHODS:
            start_response("405 Method Not Allowed", [("Allow", ", ".join(ALLOWED_METHODS))])
            return [b""]
        if not access.allows(environ.get("REMOTE_ADDR"), environ.get("HTTP_AUTHORIZATION")):
            start_response("403 Forbidden", [("Content-Type", "text/plain; charset=utf-8")])
            return [REFUSED.encode()]
        if environ["REQUEST_METHOD"] == "HEAD":
            # prometheus_client answers GET only; HEAD is the same answer without its body.
            list(export({**environ, "REQUEST_METHOD": "GET"}, start_response))
            return []
        return export(environ, start_response)

    return app


class _ScrapeHandler(WSGIRequestHandler):
    """One scrape, in a thread of its own; no access log line per scrape."""

    def handle(self) -> None:
        try:
            super().handle()
        finally:
            # The collectors may have opened a database connection in this
            # thread, and no Django request cycle is there to close it.
            connections.close_all()

    def log_message(self, format: str, *args: object) -> None:
        return


def start_metrics_server(*, host: str, port: int, registry: CollectorRegistry, access: MetricsAccess) -> WSGIServer:
    """Serve ``registry`` on ``host:port`` from a daemon thread (like prometheus_client's, with the policy)."""
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
    server_class = type("MetricsServer", (ThreadingWSGIServer,), {"address_family": family})
    server: WSGIServer = make_server(
        host, port, metrics_wsgi_app(registry, access), server_class, handler_class=_ScrapeHandler
    )
    threading.Thread(target=server.serve_forever, name="metrics-exporter", daemon=True).start()
    return server
