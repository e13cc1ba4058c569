"""The addresses `serve` and `worker` listen on, checked before anything starts.

A busy or impossible address is reported as one line that says which address
and which variable to change, instead of gunicorn's retries or the metrics
server's traceback.
"""

from __future__ import annotations

import contextlib
import errno
import socket
from collections.abc import Iterable
from dataclasses import dataclass

from mastermobile.config import AppConfig


@dataclass(frozen=True)
class ListenAddress:
    host: str
    port: int
    host_variable: str
    port_variable: str

    @classmethod
    def web(cls, config: AppConfig) -> ListenAddress:
        return cls(config.app_host, config.app_port, "APP_HOST", "APP_PORT")

    @classmethod
    def worker_metrics(cls, config: AppConfig) -> ListenAddress:
        return cls(config.worker_metrics_host, config.worker_metrics_port, "WORKER_METRICS_HOST", "WORKER_METRICS_PORT")

    def failure_message(self, error: OSError) -> str:
        """One line: the address, the variables that set it, why it cannot be used and what to change."""
        if error.errno == errno.EADDRINUSE:
            advice = f"stop what uses it or set {self.port_variable} to a free port"
        else:
            advice = f"set {self.host_variable} to an address of this machine or {self.port_variable} to another port"
        return (
            f"cannot listen on {self.host}:{self.port} ({self.host_variable}:{self.port_variable}): "
            f"{error.strerror}; {advice}"
        )


def cannot_listen_on(addresses: Iterable[ListenAddress]) -> str | None:
    """Why one of ``addresses`` cannot be listened on right now, or None when all can.

    Every address is bound at once (so two equal ones clash) and released again.
    """
    with contextlib.ExitStack() as held:
        for address in addresses:
            try:
                family, kind, proto, _, sockaddr = socket.getaddrinfo(
                    address.host, address.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
                )[0]
                probe = held.enter_context(socket.socket(family, kind, proto))
                # As gunicorn and the metrics server do: with SO_REUSEADDR a port
                # left in TIME_WAIT by the previous run is free, and listening
                # makes a later probe of the same port fail like the real server.
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind(sockaddr)
                probe.listen()
            except OSError as error:
                return address.failure_message(error)
    return None
