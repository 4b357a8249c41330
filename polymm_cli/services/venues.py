"""The composition root's venue half: which exchange a command talks to, and with which key.

`local` (the default): the local exchange. A `run` starts it in process (in a background thread, on
a free loopback port) and publishes its URL in the data dir, so a second terminal's `cancel-all`,
`pnl` or `markets list` reach that same exchange; with no run going they start their own from the
same state file. Either way the account, its key and the exchange state live in POLYMM_DATA_DIR.
`polymarket`: the real CLOB V2, with the configured key and credentials.
Both go through the same Polymarket adapter: the local exchange speaks the real protocol.
`paper`: the only place a PaperVenue is composed. Its market data comes from the Polymarket adapter
in market-data-only mode (no key: it cannot sign, so it cannot place or cancel), pointed at the
paper feed (`local`: the local exchange as above; `polymarket`; or an exchange URL); its orders and
fills are simulated in process with the backtest's queue model and latencies. Nothing is sent, so
it needs no `--live`. Its fills go to the ledger as Account("paper", `paper_address`).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import httpx
from pydantic import SecretStr

from polymm_cli import eventloop, signing
from polymm_cli.backtest.queue import PowerProbQueue, QueueModel, RiskAverseQueue
from polymm_cli.clock import Clock
from polymm_cli.errors import ConfigError, UsageError, VenueError
from polymm_cli.exchange.flow_config import FlowConfig
from polymm_cli.exchange.payouts import IncomeConfig
from polymm_cli.exchange.regimes import flow_for
from polymm_cli.exchange.server.runner import ExchangeConfig, ExchangeThread
from polymm_cli.files import PRIVATE_DIR, exposed_to_others, write_atomic
from polymm_cli.ledger import Ledger
from polymm_cli.model import Account, FillRecord, FlowRecord, Market, Side
from polymm_cli.services.guard import Action, Consent, authorize, check_endpoints, is_polymarket_url
from polymm_cli.settings import Settings, VenueName
from polymm_cli.venues.base import Chain, Venue
from polymm_cli.venues.paper import Latency, PaperVenue
from polymm_cli.venues.polymarket.adapter import PolymarketVenue
from polymm_cli.venues.polymarket.chain import (
    ClobRefreshing,
    LocalChain,
    PolygonChainUnconfigured,
    wallet_path,
)
from polymm_cli.venues.polymarket.config import PolymarketConfig

LOCAL_KEY_FILE = "local-wallet.key"
EXCHANGE_INFO_FILE = "local-exchange.json"
EXCHANGE_STATE_FILE = "local-exchange-state.json"
LOCAL_STARTING_PUSD = Decimal(1000)
# The paper wallet when no POLYMM_PRIVATE_KEY is set: the zero address, which no one holds, so a
# paper account can never be taken for a real wallet's (with a key, paper uses the key's wallet).
PAPER_WALLET_WITHOUT_KEY = "0x0000000000000000000000000000000000000000"
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class VenueHandle:
    venue: Venue
    name: str  # "local", "polymarket" or "paper"
    url: str  # the exchange the venue talks to (for paper: where its market data comes from)
    chain: Chain  # split and merge for this venue

    @property
    def account(self) -> Account:
        """Whose ledger rows this venue's trading writes: this venue and the wallet backing the orders."""
        return Account(self.name, self.venue.address)


def data_dir(settings: Settings) -> Path:
    """The data dir (ledger, the local wallet's key, exchange state, locks), created private (0700)."""
    path = settings.data_dir
    try:
        path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create data dir {path}: {exc.strerror or exc}") from None
    return path


def local_private_key(directory: Path) -> tuple[SecretStr, bool]:
    """The local wallet's key, generated once and kept (mode 0600) in the data dir; (key, created).

    A key file the group or others can read is refused, with the command that fixes it."""
    path = directory / LOCAL_KEY_FILE
    if not path.exists():
        try:
            write_atomic(path, "0x" + secrets.token_hex(32) + "\n", exclusive=True)
            created = True
        except FileExistsError:  # another command made it first: use theirs
            created = False
    else:
        created = False
    if exposed_to_others(path):
        mode = path.stat().st_mode & 0o777
        raise ConfigError(f"{path} is readable by others (mode {mode:o}): run `chmod 600 {path}`")
    text = path.read_text().strip()
    if len(text) != 66 or not text.startswith("0x"):
        raise ConfigError(f"{path} is not a private key (0x + 64 hex digits); remove it to make a new one")
    return SecretStr(text), created


RUN_LOCK_FILE = "run-{key}.lock"  # one run per wallet (services.trading.wallet_lock): holds "pid N"


def run_lock_path(directory: Path, key: str) -> Path:
    """The run lock of the wallet whose run key is `key`."""
    return directory / RUN_LOCK_FILE.format(key=key.lower())


def pid_alive(pid: int) -> bool:
    """Whether process `pid` exists (someone else's counts)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_local_exchange(directory: Path) -> str | None:
    """The URL of a local exchange a `run` published in this data dir, if it still answers."""
    path = directory / EXCHANGE_INFO_FILE
    try:
        info = json.loads(path.read_text())
        url, pid = str(info["url"]), int(info["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not pid_alive(pid):
        return None
    try:
        if httpx.get(f"{url}/ok", timeout=1.0).status_code == 200:
            return url
    except httpx.HTTPError:
        return None
    return None


def in_process_flow(settings: Settings) -> FlowConfig:
    """The synthetic flow of the exchange a command starts in process: the configured regime, its
    taker rate and depth overridden by the settings that are set."""
    return flow_for(
        settings.exchange_regime,
        taker_rate_per_min=settings.exchange_taker_rate,
        depth=settings.exchange_maker_depth,
    )


@contextlib.contextmanager
def local_exchange(settings: Settings, *, flow: bool, publish: bool) -> Iterator[str]:
    """A local exchange URL: the configured one, the one a run published, or one started here."""
    if settings.exchange_url:
        yield settings.exchange_url.rstrip("/")
        return
    directory = data_dir(settings)
    published = running_local_exchange(directory)
    if published is not None:
        yield published
        return
    config = ExchangeConfig(
        seed=settings.exchange_seed,
        flow=flow,
        state_path=directory / EXCHANGE_STATE_FILE,
        flow_config=in_process_flow(settings),
        income=IncomeConfig(epoch_s=settings.exchange_reward_epoch),
    )
    try:
        server = ExchangeThread(config).start()
    except ValueError as exc:  # an unreadable state file
        raise ConfigError(str(exc)) from None
    info_path = directory / EXCHANGE_INFO_FILE
    try:
        if publish:
            write_atomic(info_path, json.dumps({"url": server.url, "pid": os.getpid()}))
        yield server.url
    finally:
        if publish:
            info_path.unlink(missing_ok=True)
        server.stop()


def on_venue(
    settings: Settings,
    main: Callable[[str | None], Coroutine[Any, Any, T]],
    *,
    action: Action,
    consent: Consent | None = None,
    what: str = "this command",
    publish: bool = False,
) -> T:
    """Run `main(url)` to completion: `url` is the local exchange (the one a run published, or one
    started here from the data dir's state; `publish` makes this the run that others reach), or
    None for the real venue. Every command's service goes through here, so the live-funds guard
    (`guard.authorize`) runs here, first, before anything is started or sent."""
    authorize(settings, action, consent or Consent(), what)
    with exchange_for(settings, publish=publish) as url:
        return eventloop.run(main(url))


def exchange_for(settings: Settings, *, publish: bool) -> contextlib.AbstractContextManager[str | None]:
    """Where the venue's requests go: the local exchange for `local` and for a paper feed of
    "local"; a paper feed's own URL; None for real Polymarket (its hosts are in its config)."""
    paper = settings.venue is VenueName.PAPER
    if settings.venue is VenueName.LOCAL or (paper and settings.paper_feed == "local"):
        return local_exchange(settings, flow=settings.exchange_flow, publish=publish)
    return contextlib.nullcontext(settings.paper_feed_url() if paper else None)


def fund_local(url: str, address: str, amount: Decimal, *, once: bool = False) -> None:
    """Credit pUSD on the local exchange; `once`: only a wallet it has never funded (decided there,
    so two commands starting together cannot both fund it)."""
    body = {"address": address, "amount": str(amount), "once": once}
    response = httpx.post(f"{url}/_local/fund", json=body, timeout=5)
    if response.status_code != 200:
        raise VenueError(
            f"local exchange refused funding: {response.text[:200]}", status=response.status_code
        )


@contextlib.asynccontextmanager
async def open_venue(settings: Settings, clock: Clock, url: str | None = None) -> AsyncIterator[VenueHandle]:
    """Start the configured venue (authenticated) and close it afterwards.

    For `local`, `url` is the local exchange (from `local_exchange`); a wallet the exchange has never
    seen is funded with 1,000 pUSD, once (a new exchange state funds it again; a wallet that spent
    everything is not). For `paper`, `url` is the feed's exchange (None: real Polymarket).
    """
    if settings.venue is VenueName.PAPER:
        async with open_paper(settings, clock, url) as handle:
            yield handle
        return
    if settings.venue is VenueName.LOCAL:
        if url is None:
            raise ValueError("a local venue needs the local exchange's URL")
        # Never POLYMM_PRIVATE_KEY, and a chain id of our own: nothing signed here is valid on Polygon.
        key = local_private_key(data_dir(settings))[0]
        config = PolymarketConfig.for_local_exchange(url, key)
        name = "local"
    else:
        if settings.private_key is None:
            raise UsageError(
                "trading on Polymarket needs POLYMM_PRIVATE_KEY (and API credentials or a derivable key)"
            )
        config = polymarket_config(settings, settings.private_key)
        url = config.clob_url
        name = "polymarket"
    venue = PolymarketVenue(config, clock)
    chain: Chain | None = None
    try:
        await venue.start()
        if name == "local":
            fund_local(url, venue.address, LOCAL_STARTING_PUSD, once=True)
        chain = LocalChain(venue) if name == "local" else ClobRefreshing(polygon_chain(settings), venue)
        yield VenueHandle(venue, name, url, chain)
    finally:
        close = getattr(chain, "close", None)  # Polygon's: its RPC session
        if close is not None:
            await close()
        await venue.close()


def polymarket_config(settings: Settings, private_key: SecretStr) -> PolymarketConfig:
    """The real venue's connection: Polymarket's hosts, or `--exchange-url` / POLYMM_GAMMA_URL
    (allowed by `guard.check_endpoints`, checked here again). An exchange URL off polymarket.com
    (`--unsafe-polymarket-url`) is laid out like the local exchange, so its WebSocket is taken from
    the same host ({url}/ws), never real Polymarket's streams beside another exchange's orders."""
    check_endpoints(settings)
    config = PolymarketConfig.for_polymarket(
        private_key=private_key,
        api_key=settings.api_key,
        api_secret=settings.api_secret,
        api_passphrase=settings.api_passphrase,
        signature_type=settings.signature_type,
        funder=settings.funder,
        signer=settings.signer.value,
    )
    if settings.exchange_url:
        base = settings.exchange_url.rstrip("/")
        config = config.with_changes(clob_url=base)
        if not is_polymarket_url(base):
            config = config.with_changes(ws_url=PolymarketConfig.for_local_exchange(base, None).ws_url)
    if settings.gamma_url:
        config = config.with_changes(gamma_url=settings.gamma_url.rstrip("/"))
    return config


def polygon_chain(settings: Settings) -> Chain:
    """The Polygon chain port of the settings' wallet: an EOA sends its own transactions over
    `rpc_url`; a proxy or Safe wallet acts through Polymarket's relayer (builder credentials), its
    balances read over `rpc_url` too. Every command on the venue opens it (the kill switch too), so
    what is missing or wrong never fails here: the port says it, in one line, when it is used."""
    missing = _chain_missing(settings)
    if missing is not None or settings.private_key is None or settings.rpc_url is None:
        return PolygonChainUnconfigured(missing or "on-chain operations need POLYMM_PRIVATE_KEY")
    # web3 and the relayer client load here, when an on-chain command runs (slow to import)
    from polymm_cli.venues.polymarket.polygon import PolygonChain, PolygonConfig
    from polymm_cli.venues.polymarket.relayer import RelayerChain, RelayerConfig

    try:
        if wallet_path(settings.signature_type) == "direct":
            return PolygonChain(
                PolygonConfig(
                    rpc_url=settings.rpc_url,
                    private_key=settings.private_key,
                    max_fee_gwei=settings.max_fee_gwei,
                    approve=settings.chain_approve,
                    receipt_timeout_s=settings.receipt_timeout,
                )
            )
        assert settings.builder_secret is not None and settings.builder_passphrase is not None
        return RelayerChain(
            RelayerConfig(
                relayer_url=settings.relayer_url,
                rpc_url=settings.rpc_url,
                private_key=settings.private_key,
                signature_type=settings.signature_type,
                funder=settings.funder,
                builder_api_key=settings.builder_api_key or "",
                builder_secret=settings.builder_secret,
                builder_passphrase=settings.builder_passphrase,
                timeout_s=settings.receipt_timeout,
            )
        )
    except UsageError as exc:  # a bad key, a funder that is not the key's wallet
        return PolygonChainUnconfigured(str(exc))


def _chain_missing(settings: Settings) -> str | None:
    """What the settings lack for on-chain operations, in one line; None when nothing."""
    if settings.private_key is None:
        return "on-chain operations need POLYMM_PRIVATE_KEY"
    if not settings.rpc_url:
        return "split, merge and redeem on Polygon need an RPC: --rpc-url or POLYMM_RPC_URL (docs/chain.md)"
    if settings.signature_type == 3:
        return (
            "split, merge and redeem of a deposit wallet (signature type 3) are not driven by polymm: "
            "do them in the Polymarket UI"
        )
    relayed = wallet_path(settings.signature_type) == "relayer"
    if relayed and not (settings.builder_api_key and settings.builder_secret and settings.builder_passphrase):
        return _NEEDS_BUILDER
    return None


_NEEDS_BUILDER = (
    "a proxy or Safe wallet splits, merges and redeems through Polymarket's relayer, which needs builder"
    " API credentials: POLYMM_BUILDER_API_KEY, POLYMM_BUILDER_SECRET, POLYMM_BUILDER_PASSPHRASE"
)


def wallet_address(settings: Settings) -> str:
    """The wallet the settings trade (whose engine a halt is for, whose ledger account `pnl` shows),
    known without the network: on Polymarket the configured key's (the funder's for a proxy wallet),
    on the local exchange the data dir's own wallet (the local venue never uses POLYMM_PRIVATE_KEY),
    on paper `paper_address`."""
    if settings.venue is VenueName.PAPER:
        return paper_address(settings)
    if settings.venue is VenueName.POLYMARKET:
        if settings.private_key is None:
            raise UsageError("polymarket needs POLYMM_PRIVATE_KEY to know which wallet is meant")
        if settings.funder and settings.signature_type != 0:
            return settings.funder
        key = settings.private_key
    else:
        key = local_private_key(data_dir(settings))[0]
    try:
        return signing.address_from_private_key(key.get_secret_value())
    except ValueError:
        raise UsageError("POLYMM_PRIVATE_KEY is not a valid private key") from None


def settings_account(settings: Settings) -> Account:
    """The account the settings trade, known without the network: the venue and `wallet_address`."""
    return Account(settings.venue.value, wallet_address(settings))


def run_key(account: Account) -> str:
    """What one engine at a time holds (the run lock) and a halt names: the wallet, so one wallet
    is traded by one engine on the local exchange or Polymarket; a paper account's is its own, so
    a paper run goes beside a real one of the same wallet."""
    return f"paper-{account.wallet}" if account.venue == VenueName.PAPER.value else account.wallet


def chain_of(handle: VenueHandle) -> Chain:
    """Split, merge and redeem for the venue opened: the local exchange's loopback endpoints,
    Polygon (`polygon_chain`), or paper's simulated ones."""
    return handle.chain


def check_chain_settings(settings: Settings) -> None:
    """Before anything is sent: an on-chain command on Polymarket needs the key, an RPC URL, and for
    a wallet that goes through the relayer the builder credentials and the key's own wallet as funder."""
    if settings.venue is not VenueName.POLYMARKET:
        return
    missing = _chain_missing(settings)
    if missing is not None:
        raise UsageError(missing)
    if wallet_path(settings.signature_type) == "relayer":
        from polymm_cli.venues.polymarket.relayer import check_funder  # the relayer client: slow to import

        check_funder(
            wallet_address(settings.model_copy(update={"signature_type": 0})),
            settings.signature_type,
            settings.funder,
        )


def paper_address(settings: Settings) -> str:
    """The paper wallet: POLYMM_PRIVATE_KEY's wallet when a key is set (the funder's for a proxy
    wallet), so paper results sit beside that wallet's real ones in `pnl --all`; without a key the
    zero address (`PAPER_WALLET_WITHOUT_KEY`). Nothing is ever signed with the key here."""
    if settings.private_key is None:
        return PAPER_WALLET_WITHOUT_KEY
    if settings.funder and settings.signature_type != 0:
        return settings.funder.lower()
    try:
        return signing.address_from_private_key(settings.private_key.get_secret_value()).lower()
    except ValueError:
        raise UsageError("POLYMM_PRIVATE_KEY is not a valid private key") from None


def paper_holdings(
    start: Decimal, fills: list[FillRecord], flows: list[FlowRecord], markets: dict[str, Market]
) -> tuple[Decimal, dict[str, Decimal]]:
    """The paper wallet now: `start` pUSD plus what its recorded fills and flows moved, and its tokens.

    A paper account persists like a real wallet: each run starts from what the ledger says it holds,
    so the engine's positions (a projection of the same ledger) and the simulated balances agree."""
    cash = start
    tokens: dict[str, Decimal] = {}
    for fill in fills:
        if not fill.effective:
            continue
        notional = fill.price * fill.size
        sign = 1 if fill.side is Side.BUY else -1
        cash += -sign * notional - fill.fee
        tokens[fill.token_id] = tokens.get(fill.token_id, Decimal(0)) + sign * fill.size
    for flow in flows:
        cash += flow.collateral_delta
        market = markets.get(flow.market)
        if market is not None:
            tokens[market.yes_token] = tokens.get(market.yes_token, Decimal(0)) + flow.yes_delta
            tokens[market.no_token] = tokens.get(market.no_token, Decimal(0)) + flow.no_delta
    return cash, {token: held for token, held in tokens.items() if held != 0}


def market_data_venue(settings: Settings, clock: Clock, url: str | None) -> PolymarketVenue:
    """The paper feed: the Polymarket adapter with no key (market data only), at `url` (an exchange
    laid out like the local one) or on real Polymarket's public hosts (url None)."""
    config = PolymarketConfig.for_market_data(url)
    if url is None and settings.gamma_url:
        config = config.with_changes(gamma_url=settings.gamma_url.rstrip("/"))
    return PolymarketVenue(config, clock)


@contextlib.asynccontextmanager
async def open_paper(settings: Settings, clock: Clock, url: str | None) -> AsyncIterator[VenueHandle]:
    """PaperVenue over the market-data-only adapter, its wallet as the ledger leaves it. The paper
    venue closes its data venue; it is its own chain (split and merge are simulated)."""
    address = paper_address(settings)
    with Ledger.open(data_dir(settings), account=Account(VenueName.PAPER.value, address)) as ledger:
        collateral, tokens = paper_holdings(
            settings.paper_collateral, ledger.fills(), ledger.flows(), ledger.market_meta()
        )
    data = market_data_venue(settings, clock, url)
    venue = PaperVenue(
        data,
        clock,
        collateral=collateral,
        tokens=tokens,
        queue=queue_model(settings),
        latency=latency(settings),
        address=address,
    )
    try:
        await data.start()  # without a key: nothing to authenticate, nothing sent
        await venue.start()
        yield VenueHandle(venue, VenueName.PAPER.value, data.config.clob_url, venue)
    finally:
        await venue.close()


# -- the fill simulation's settings (paper trading and the backtest) -------------------------------


def queue_model(settings: Settings) -> QueueModel:
    """The queue-position model `--queue` names (settings.QueueChoice)."""
    choice = settings.queue_choice()
    return RiskAverseQueue() if choice.kind == "risk-averse" else PowerProbQueue(choice.power)


def latency(settings: Settings) -> Latency:
    """The simulated latencies `--latency-ms` sets (settings.LatencyChoice)."""
    choice = settings.latency_choice()
    return Latency(
        order_entry_s=choice.order_entry_s, cancel_s=choice.cancel_s, market_data_s=choice.market_data_s
    )
