"""Who sent a status code: the application, a proxy, a CDN, a load balancer, the client, or the
web server software (nginx's log-only codes). Catalogue entries may carry ``sent_by`` and
``seen_by_client``; until they do, a small table of well-known cases decides.
"""

from __future__ import annotations

from typing import Literal, cast

Sender = Literal["origin", "proxy", "cdn", "load_balancer", "client", "server_software"]
SENDERS: tuple[Sender, ...] = ("origin", "proxy", "cdn", "load_balancer", "client", "server_software")

_CDN = frozenset({520, 521, 522, 523, 524, 525, 526, 527, 530})  # Cloudflare
_BALANCER = frozenset({460, 463, 464, 561})  # AWS Elastic Load Balancing
_NGINX_LOG_ONLY = frozenset({444, 494, 495, 496, 497, 499})  # nginx writes them, sends 400 or nothing
_GATEWAY = frozenset({502, 504})
# Who stands in front of the application in each format that logs both codes.
INTERMEDIARY: dict[str, Sender] = {
    "alb": "load_balancer",
    "elb": "load_balancer",
    "haproxy": "proxy",
    "ingress_nginx": "proxy",
    "traefik": "proxy",
    "cloudflare": "cdn",
}


def sender(
    code: int, entry: object | None = None, fmt: str = "", targets: dict[str, int] | None = None
) -> Sender:
    """Who most likely sent ``code``: the catalogue entry's ``sent_by`` when it has one; else,
    where the log names the server behind an intermediary (``targets``: that server's codes with
    their counts, ``-`` for none), the intermediary when the server mostly did not send it; else
    the table.
    """
    declared = getattr(entry, "sent_by", None)
    if declared in SENDERS:
        return cast(Sender, declared)
    if targets and fmt in INTERMEDIARY:
        own = sum(n for target, n in targets.items() if target != str(code))
        if own * 2 > sum(targets.values()):
            return INTERMEDIARY[fmt]
        return "origin"
    if code == 0:
        return "client"
    if code in _CDN:
        return "cdn"
    if code in _BALANCER:
        return "load_balancer"
    if code in _NGINX_LOG_ONLY:
        return "server_software"
    if code in _GATEWAY:
        return "proxy"
    return "origin"


def seen_by_client(code: int, entry: object | None = None) -> bool:
    """Whether a client ever receives ``code`` (nginx's 444 and 499 are only written to logs)."""
    declared = getattr(entry, "seen_by_client", None)
    if isinstance(declared, bool):
        return declared
    return code not in _NGINX_LOG_ONLY and code != 0
