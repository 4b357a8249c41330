"""The one guard in front of real funds, applied where every command opens its venue (`on_venue`).

- On `--venue polymarket`, a command that can place, sell, split, merge or redeem (`Action.TRADE`)
  needs `--live` and a typed confirmation (or `--yes`). The refusal is one line naming `--live`,
  raised before anything touches the network. `cancel-all` (`Action.CANCEL`) is exempt: a kill
  switch must always work. Reading (`Action.READ`) needs neither.
- The real venue only talks to Polymarket's own hosts: a custom `--exchange-url` or `POLYMM_GAMMA_URL`
  must be https on polymarket.com (or a subdomain) unless `--unsafe-polymarket-url` says otherwise,
  because every request carries signatures made with the real key.

What the local venue signs with (its own key and chain id, never POLYMM_PRIVATE_KEY) is decided in
`services.venues.open_venue`; this module only decides whether a command may go on at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from polymm_cli.errors import UsageError
from polymm_cli.settings import Settings, VenueName

POLYMARKET_DOMAIN = "polymarket.com"


class Action(StrEnum):
    READ = "read"  # listings, books, quotes, P&L
    CANCEL = "cancel"  # the kill switch: always allowed
    TRADE = "trade"  # anything that can place, sell, split, merge or redeem


def _never(question: str) -> bool:
    return False


@dataclass(frozen=True, slots=True)
class Consent:
    """What the user said on the command line: `--live`, `--yes`, and how to ask them."""

    live: bool = False
    yes: bool = False
    confirm: Callable[[str], bool] = _never  # asked the question, True only on a typed "yes"


def authorize(settings: Settings, action: Action, consent: Consent, what: str) -> None:
    """Refuse, before any network call, what the settings and the user's consent do not allow.

    `what` says what the command is about to do, for the confirmation ("seed 50 pUSD in fed-cut")."""
    if settings.venue is not VenueName.POLYMARKET:
        return
    check_endpoints(settings)
    if action is not Action.TRADE:
        return
    if not consent.live:
        raise UsageError(f"{what} would use REAL funds on Polymarket: add --live to do it")
    if settings.private_key is None:
        raise UsageError("--live needs POLYMM_PRIVATE_KEY (and API credentials or a derivable key)")
    if consent.yes:
        return
    if not consent.confirm(f"{what} with REAL funds on Polymarket?"):
        raise UsageError("not confirmed: nothing was sent (type 'yes' at the prompt, or pass --yes)")


def is_polymarket_url(url: str) -> bool:
    """https on polymarket.com or one of its subdomains (clob., gamma-api., ...)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return parts.scheme == "https" and (host == POLYMARKET_DOMAIN or host.endswith("." + POLYMARKET_DOMAIN))


def check_endpoints(settings: Settings) -> None:
    """The real venue's requests carry our signatures: only Polymarket's own hosts get them, unless
    the user passed `--unsafe-polymarket-url`."""
    if settings.unsafe_polymarket_url:
        return
    for name, url in (("--exchange-url", settings.exchange_url), ("POLYMM_GAMMA_URL", settings.gamma_url)):
        if url and not is_polymarket_url(url):
            raise UsageError(
                f"{name} {url[:80]} is not Polymarket's (https on {POLYMARKET_DOMAIN}): the real venue"
                " sends it signatures made with your key; pass --unsafe-polymarket-url if you mean it"
            )
