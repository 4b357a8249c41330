"""`polymm doctor`: observe the wallet, the endpoints and the data dir, and judge each (diagnosis.py).

Owns the I/O of the checks: the file system (data dir, key file), HTTP (the exchange's `/`, `/time`,
the geoblock endpoint), the WebSocket handshake, the venue's L1/L2 authentication (API credentials
created or derived exactly as `PolymarketVenue.start()` does, then used once) and the Polygon reads
(`WalletReads`: code, POL, pUSD, allowances). Every network check is timed with the injected clock.
The checks send no transaction and place no order; the judgements are `diagnosis`'s and the
wallet's identification `venues.polymarket.wallets`'. The one thing that sends is `fix_allowances`
(`--fix-allowances`): the approvals an EOA lacks, through the chain port, behind the live-funds guard.

What is checked where (docs/doctor.md): on `--venue local` the local exchange and the data dir's
play wallet (no chain: gas and approvals do not apply); on `--venue polymarket` the configured key,
signature type and funder against Polygon through `--rpc-url` (no RPC URL: those checks fail as
"not checked").
"""

from __future__ import annotations

import asyncio
import os
import string
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol, TypeVar

import httpx
from pydantic import SecretStr

from polymm_cli import diagnosis as dx
from polymm_cli import signing
from polymm_cli.clock import Clock, SystemClock
from polymm_cli.diagnosis import ApprovalState, Check
from polymm_cli.errors import PolymmError, UsageError, VenueError, describe
from polymm_cli.files import PRIVATE_DIR, exposed_to_others
from polymm_cli.ledger import LEDGER_FILENAME
from polymm_cli.services.guard import Action, Consent, is_polymarket_url
from polymm_cli.services.venues import (
    LOCAL_KEY_FILE,
    LOCAL_STARTING_PUSD,
    data_dir,
    fund_local,
    local_private_key,
    on_venue,
    polygon_chain,
    polymarket_config,
)
from polymm_cli.settings import Settings, VenueName
from polymm_cli.venues.polymarket import contracts as c
from polymm_cli.venues.polymarket.adapter import PolymarketVenue
from polymm_cli.venues.polymarket.chain import rpc_host, wallet_path
from polymm_cli.venues.polymarket.config import PolymarketConfig
from polymm_cli.venues.polymarket.streams import handshake

POLYMARKET_GEOBLOCK_URL = "https://polymarket.com/api/geoblock"
ENV_FILE = ".env"  # where settings read `.env` from (settings.Settings.model_config): the current directory
PROBE_TIMEOUT_S = 5.0
T = TypeVar("T")
# every check after data-dir on the local exchange, in order
LOCAL_NAMES = (
    "key",
    "rest",
    "clock",
    "websocket",
    "api-creds",
    "geoblock",
    "rpc",
    "wallet",
    "gas",
    "pusd",
    "approvals",
)
# what an error of the network (not of the credentials) says
NETWORK_SIGNS = ("ConnectError", "ConnectTimeout", "ReadTimeout", "no answer within", "HTTP 5")
RPC_FIX = "pass --rpc-url URL or set POLYMM_RPC_URL (a Polygon mainnet JSON-RPC endpoint)"


ApprovalRead = tuple[c.Approval, int | bool]  # an approval and its pUSD allowance or CTF operator flag


class WalletReads(Protocol):
    """The Polygon reads the checks need (read-only; amounts in base units)."""

    async def chain_id(self) -> int: ...

    async def code(self, address: str) -> bytes: ...

    async def native_balance(self, address: str) -> int: ...

    async def pusd_balance(self, owner: str) -> int: ...

    async def approvals(self, owner: str) -> list[ApprovalRead]: ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Target:
    """What one doctor run looks at: the venue's endpoints, the key and wallet settings, the RPC."""

    venue: VenueName
    config: PolymarketConfig | None  # None: no usable key (the key check says why)
    geoblock_url: str
    rpc_url: str | None
    signature_type: int
    funder: str | None
    signer: str | None = None  # the key's address (None: no usable key)
    builder_creds: bool = False  # the relayer's builder API credentials are all set


def diagnose(
    settings: Settings,
    *,
    clock: Clock | None = None,
    reads_for: Callable[[str], WalletReads] | None = None,
) -> list[Check]:
    """Every check, in a fixed order (see the module docstring). `reads_for(rpc_url)` opens the
    Polygon reads (tests inject theirs)."""
    the_clock = clock or SystemClock()
    dir_check = data_dir_check(settings.data_dir)
    usable = settings.data_dir.is_dir() and os.access(settings.data_dir, os.W_OK | os.X_OK)
    if settings.venue is VenueName.LOCAL and not usable:  # the local wallet and exchange live there
        why, fix = "the local wallet and exchange live in the data dir", "fix data-dir first"
        return [dir_check, *(dx.not_checked(name, why, fix) for name in LOCAL_NAMES)]

    async def main(url: str | None) -> list[Check]:
        key_check, target = resolve_target(settings, url)
        doctor = _Doctor(target, the_clock, reads_for)
        return [dir_check, key_check, *await doctor.run()]

    return on_venue(settings, main, action=Action.READ, what="doctor")


# -- the data dir and the key ------------------------------------------------------------------------


def data_dir_check(path: Path) -> Check:
    """Writable, and private: the ledger (trading history) and the local wallet's key live there."""
    fix_mode = f"chmod 700 {path}"
    try:
        path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".doctor-", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        fix = f"make {path} a directory you can write, or point POLYMM_DATA_DIR elsewhere"
        return dx.failed("data-dir", f"{path} is not writable: {exc.strerror or exc}", fix)
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        who = "anyone" if mode & 0o007 else "the group"
        return dx.failed("data-dir", f"{path} is open to {who} (mode {mode:o})", fix_mode)
    exposed = [
        f"{p.name} (mode {p.stat().st_mode & 0o777:o})"
        for p in (path / LEDGER_FILENAME, path / LOCAL_KEY_FILE)
        if p.exists() and p.stat().st_mode & 0o077
    ]
    if exposed:
        files = " ".join(str(path / e.split(" ")[0]) for e in exposed)
        return dx.failed("data-dir", f"readable by others: {', '.join(exposed)}", f"chmod 600 {files}")
    return dx.passed("data-dir", f"{path} writable, mode {mode:o}")


def resolve_target(settings: Settings, url: str | None) -> tuple[Check, Target]:
    """The key check and what the rest of the checks look at."""
    if settings.venue is VenueName.LOCAL:
        if url is None:
            raise ValueError("the local venue needs the local exchange's URL")
        return _local_target(settings, url)
    return _polymarket_target(settings)


def _local_target(settings: Settings, url: str) -> tuple[Check, Target]:
    geoblock_url = f"{url}/api/geoblock"
    path = data_dir(settings) / LOCAL_KEY_FILE
    try:
        key = local_private_key(path.parent)[0]
        address = signing.address_from_private_key(key.get_secret_value())
    except (PolymmError, ValueError) as exc:
        fix = f"chmod 600 {path}" if path.exists() and exposed_to_others(path) else f"remove {path}"
        check = dx.failed("key", f"the local wallet's key: {exc}", fix)
        return check, Target(VenueName.LOCAL, None, geoblock_url, None, 0, None)
    config = _short(PolymarketConfig.for_local_exchange(url, key))
    check = dx.passed(
        "key", f"local play wallet {address} (the data dir's own key, never POLYMM_PRIVATE_KEY)"
    )
    return check, Target(VenueName.LOCAL, config, geoblock_url, None, 0, None, address)


def _polymarket_target(settings: Settings) -> tuple[Check, Target]:
    exchange = settings.exchange_url.rstrip("/") if settings.exchange_url else None
    custom = exchange is not None and not is_polymarket_url(exchange)
    geoblock_url = f"{exchange}/api/geoblock" if custom else POLYMARKET_GEOBLOCK_URL
    builder = (settings.builder_api_key, settings.builder_secret, settings.builder_passphrase)
    empty = Target(
        VenueName.POLYMARKET,
        None,
        geoblock_url,
        settings.rpc_url,
        settings.signature_type,
        settings.funder,
        builder_creds=all(part is not None for part in builder),
    )
    key = settings.private_key
    if key is None:
        fix = "set POLYMM_PRIVATE_KEY (in .env, mode 600) to the key of your Polymarket wallet"
        return dx.failed("key", "no POLYMM_PRIVATE_KEY", fix), empty
    address = _address_of(key)
    if address is None:
        fix = "POLYMM_PRIVATE_KEY must be 0x followed by 64 hex digits (the key Polymarket exported)"
        return dx.failed("key", "POLYMM_PRIVATE_KEY does not parse as a private key", fix), empty
    if settings.funder is not None and not _is_address(settings.funder):
        fix = "set POLYMM_FUNDER to your Polymarket wallet's address (0x + 40 hex digits), or unset it"
        return dx.failed(
            "key", f"parses, but POLYMM_FUNDER {settings.funder[:50]!r} is not an address", fix
        ), empty
    target = replace(empty, config=_short(polymarket_config(settings, key)), signer=address)
    env_file = Path(ENV_FILE)
    if _holds_a_key(env_file) and exposed_to_others(env_file):
        mode = env_file.stat().st_mode & 0o777
        where = env_file.resolve()
        detail = f"parses (signer {address}), but {where} holds it and others can read it (mode {mode:o})"
        return dx.failed("key", detail, f"chmod 600 {where}"), target
    return dx.passed("key", f"parses; signer {address}"), target


def _holds_a_key(env_file: Path) -> bool:
    """Whether the `.env` settings read (the current directory's) sets POLYMM_PRIVATE_KEY."""
    try:
        lines = env_file.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return False
    for line in lines:
        name, _, value = line.strip().removeprefix("export ").partition("=")
        if name.strip() == "POLYMM_PRIVATE_KEY" and value.strip().strip("'\"") != "":
            return True
    return False


def _is_address(text: str) -> bool:
    """40 hex digits, with or without 0x, in any case (what the other checks can then judge)."""
    digits = text[2:] if text[:2].lower() == "0x" else text
    return len(digits) == 40 and all(ch in string.hexdigits for ch in digits)


def _address_of(key: SecretStr) -> str | None:
    try:
        return signing.address_from_private_key(key.get_secret_value())
    except ValueError:
        return None


def _short(config: PolymarketConfig) -> PolymarketConfig:
    """A doctor's connection: one quick attempt per request, so a fault shows at once."""
    return config.with_changes(
        http_timeout_s=PROBE_TIMEOUT_S, http_max_attempts=1, http_retry_budget_s=PROBE_TIMEOUT_S
    )


# -- the network checks ------------------------------------------------------------------------------


class _Doctor:
    """One run's network checks over one target, timed with one clock."""

    def __init__(self, target: Target, clock: Clock, reads_for: Callable[[str], WalletReads] | None) -> None:
        self.target = target
        self.clock = clock
        self.reads_for = reads_for
        self.http: httpx.AsyncClient | None = None  # open while `run` probes the endpoints

    async def run(self) -> list[Check]:
        # One client, made before any timing starts (making one loads TLS certificates: ~100 ms).
        # One probe at a time, so no probe's latency includes another's work.
        async with httpx.AsyncClient(timeout=PROBE_TIMEOUT_S) as self.http:
            rest = await self.rest()
            skew = await self.skew()
            socket = await self.websocket()
            geo = await self.geoblock()
        self.http = None
        creds, clob_pusd = await self.credentials()
        chain = await self.chain_checks(clob_pusd)
        return [rest, skew, socket, creds, geo, *chain]

    async def timed(self, work: Awaitable[T]) -> tuple[T | None, str | None, float]:
        """(result, None, seconds) or (None, the error in one line, seconds)."""
        started = self.clock.monotonic()
        try:
            result = await asyncio.wait_for(work, PROBE_TIMEOUT_S)
        except TimeoutError:
            return None, f"no answer within {PROBE_TIMEOUT_S:g} s", self.clock.monotonic() - started
        except (OSError, httpx.HTTPError, PolymmError, ValueError) as exc:
            return None, describe(exc, 160), self.clock.monotonic() - started
        return result, None, self.clock.monotonic() - started

    @property
    def clob_url(self) -> str | None:
        return self.target.config.clob_url if self.target.config else None

    async def _get(self, url: str) -> httpx.Response:
        if self.http is None:
            raise RuntimeError("HTTP probes run inside `run`")
        response = await self.http.get(url)
        if response.status_code != 200:
            raise VenueError(f"HTTP {response.status_code} from {url}")
        return response

    async def _get_json(self, url: str) -> Any:
        return (await self._get(url)).json()

    async def rest(self) -> Check:
        if self.clob_url is None:
            return dx.not_checked("rest", "no usable key, so no venue to reach", "fix the key first")
        # the SDK's get_ok(): GET / answers "OK" (as a JSON string or plain text: only the 200 counts)
        _, error, took = await self.timed(self._get(self.clob_url + "/"))
        return dx.reachable("rest", self.clob_url, took, error, "check the network and --exchange-url")

    async def skew(self) -> Check:
        if self.clob_url is None:
            return dx.not_checked("clock", "no venue to ask the time", "fix the key first")
        sent = self.clock.now()
        body, error, _ = await self.timed(self._get_json(self.clob_url + "/time"))
        received = self.clock.now()
        server = body.get("time") if isinstance(body, dict) else body
        if error is not None or not isinstance(server, int | float) or isinstance(server, bool):
            why = error or "an answer that is not a time"
            return dx.failed("clock", f"/time: {why}", "check the network", dx.ms(received - sent))
        return dx.clock_skew(int(server), sent, received)

    async def websocket(self) -> Check:
        if self.target.config is None:
            return dx.not_checked("websocket", "no venue to reach", "fix the key first")
        url = self.target.config.market_ws_url

        _, error, took = await self.timed(handshake(url, PROBE_TIMEOUT_S))
        return dx.reachable("websocket", url, took, error, "check the network (a proxy must pass WebSockets)")

    async def geoblock(self) -> Check:
        body, error, took = await self.timed(self._get_json(self.target.geoblock_url))
        if error is not None:
            fix = f"check the network; {self.target.geoblock_url} says whether this location may trade"
            return dx.failed("geoblock", f"{self.target.geoblock_url}: {error}", fix, dx.ms(took))
        return dx.geoblock(body, took)

    # -- API credentials (and the CLOB's view of the balance, which they unlock) --------------------

    async def credentials(self) -> tuple[Check, Decimal | None]:
        """Create or derive over L1 when none are configured (as `PolymarketVenue.start()` does for
        every command), then one L2 read (`/balance-allowance`) proves the credentials work."""
        config = self.target.config
        if config is None:
            return dx.not_checked("api-creds", "no usable key", "fix the key first"), None
        try:
            venue = PolymarketVenue(config, self.clock)
        except PolymmError as exc:  # the signer refuses this key, type and funder together
            return dx.failed("api-creds", f"cannot sign: {exc}", "see the wallet check"), None
        configured = config.has_api_creds

        async def authenticate() -> Decimal:
            await venue.start()
            if self.target.venue is VenueName.LOCAL:  # as every command does on the local exchange
                await asyncio.to_thread(
                    fund_local, config.clob_url, venue.address, LOCAL_STARTING_PUSD, once=True
                )
            return (await venue.balances()).collateral

        try:
            collateral, error, took = await self.timed(authenticate())
        finally:
            await venue.close()
        if error is None:
            how = "the configured ones" if configured else "created or derived from the key over L1"
            return dx.passed("api-creds", f"accepted ({how})", dx.ms(took)), collateral
        unreachable = any(sign in error for sign in NETWORK_SIGNS)
        if configured and not unreachable:
            fix = (
                "unset POLYMM_API_KEY, POLYMM_API_SECRET and POLYMM_API_PASSPHRASE: polymm then derives"
                " them from the key"
            )
            return dx.failed(
                "api-creds", f"the configured API credentials do not work: {error}", fix, dx.ms(took)
            ), None
        if configured:
            detail = f"the configured API credentials could not be tried: {error}"
            return dx.failed("api-creds", detail, "check the network (see the rest check)", dx.ms(took)), None
        fix = "check the key, the clock check and the network (L1 auth signs a timestamp)"
        return dx.failed(
            "api-creds",
            _without_prefix(error, "could not create or derive API credentials: "),
            fix,
            dx.ms(took),
        ), None

    # -- Polygon: the RPC, the wallet, gas, pUSD, approvals ---------------------------------------

    async def chain_checks(self, clob_pusd: Decimal | None) -> list[Check]:
        target = self.target
        if target.venue is VenueName.LOCAL:
            return _local_chain_checks(clob_pusd)
        relayer = dx.relayer(target.signature_type, target.builder_creds)
        if target.rpc_url is None:
            return [*_unchecked_chain(clob_pusd, "no RPC URL set", RPC_FIX), relayer]
        if target.signer is None:
            return [*_unchecked_chain(None, "no usable key", "fix the key first"), relayer]
        reads = (self.reads_for or _polygon_reads)(target.rpc_url)
        try:
            return [*await self.polygon_checks(reads, target.rpc_url, target.signer, clob_pusd), relayer]
        finally:
            await reads.close()

    async def polygon_checks(
        self, reads: WalletReads, rpc_url: str, signer: str, clob_pusd: Decimal | None
    ) -> list[Check]:
        chain_id, error, took = await self.timed(reads.chain_id())
        where = rpc_host(rpc_url)
        if error is not None:  # the reader's own line names the host; a timeout here does not
            said = error.removeprefix("VenueError: ")
            detail = said if said != error else f"{where} unreachable: {error}"
            rpc = dx.failed("rpc", detail, "check --rpc-url / POLYMM_RPC_URL", dx.ms(took))
            return [rpc, *_unchecked_chain(clob_pusd, "the RPC did not answer", "fix the RPC first")[1:]]
        if chain_id != c.POLYGON_CHAIN_ID:
            rpc = dx.failed(
                "rpc",
                f"{where} is chain {chain_id}, not Polygon ({c.POLYGON_CHAIN_ID})",
                RPC_FIX,
                dx.ms(took),
            )
            return [rpc, *_unchecked_chain(clob_pusd, "the RPC is not Polygon's", "fix the RPC first")[1:]]
        rpc = dx.passed("rpc", f"{where}: Polygon (chain id {chain_id})", dx.ms(took))
        return [rpc, *await self.wallet_checks(reads, signer)]

    async def wallet_checks(self, reads: WalletReads, signer: str) -> list[Check]:
        target = self.target
        funder = target.funder or signer
        from polymm_cli.venues.polymarket.wallets import expected_wallets, identify, verdict

        expected = expected_wallets(signer)
        code, error, _ = await self.timed(reads.code(funder))
        if code is None:
            wallet = dx.failed("wallet", f"eth_getCode {funder}: {error}", "check the RPC")
        else:
            found = verdict(target.signature_type, target.funder, identify(funder, code, expected), expected)
            if found.ok:
                wallet = dx.passed("wallet", f"{found.detail}; {PATHS[wallet_path(target.signature_type)]}")
            else:
                wallet = dx.failed("wallet", found.detail, found.fix)
        wei, error, _ = await self.timed(reads.native_balance(signer))
        gas = (
            dx.pol_balance(Decimal(wei) / c.WEI_PER_POL, target.signature_type, signer)
            if wei is not None
            else dx.failed("gas", f"eth_getBalance {signer}: {error}", "check the RPC")
        )
        base, error, _ = await self.timed(reads.pusd_balance(funder))
        pusd = (
            dx.pusd_balance(c.from_base_units(base), funder, "on chain", PUSD_FIX)
            if base is not None
            else dx.failed("pusd", f"pUSD balanceOf {funder}: {error}", "check the RPC")
        )
        read, error, _ = await self.timed(reads.approvals(funder))
        approvals = (
            dx.approvals(approval_states(read), approvals_fix(target.signature_type), base or 0)
            if read is not None
            else [dx.failed("approvals", f"allowance reads for {funder}: {error}", "check the RPC")]
        )
        return [wallet, gas, pusd, *approvals]


PUSD_FIX = "deposit on polymarket.com, or wrap USDC.e into pUSD through the CollateralOnramp"
# How split, merge, redeem and approvals are sent for the wallet (venues/polymarket/chain.wallet_path)
PATHS = {
    "direct": "on-chain operations: direct (this key signs and pays the gas)",
    "relayer": "on-chain operations: through Polymarket's relayer (gasless; the contract wallet acts)",
}
LOCAL_PUSD_FIX = "the play wallet spent its pUSD: merge or sell, or start a new data dir (POLYMM_DATA_DIR)"


FIX_ALLOWANCES = "polymm doctor --venue polymarket --fix-allowances --live"


def _polygon_reads(rpc_url: str) -> WalletReads:
    from polymm_cli.venues.polymarket.polygon_reads import PolygonReader

    return PolygonReader(rpc_url, PROBE_TIMEOUT_S)


def approvals_fix(signature_type: int) -> str:
    """Where a missing approval is set: the key's own transaction for an EOA, the Polymarket UI
    (through the relayer) for a contract wallet."""
    if signature_type == 0:
        return (
            f"`{FIX_ALLOWANCES}` sends the missing approvals from this key (or approve in the Polymarket UI)"
        )
    return "enable trading on polymarket.com with this wallet: it sets these approvals through the relayer"


# -- --fix-allowances: the one thing doctor may send, behind the live-funds guard --------------------


@dataclass(frozen=True, slots=True)
class Granted:
    """An approval `--fix-allowances` sent: which, its transaction, the POL it cost."""

    approval: c.Approval
    tx_hash: str
    pol: Decimal


def approval_states(read: list[ApprovalRead]) -> list[ApprovalState]:
    """The approvals read, one state per spender (in `contracts.TRADING_APPROVALS`'s order)."""
    allowances = {a.spender: int(v) for a, v in read if a.kind == "erc20"}
    operators = {a.spender: bool(v) for a, v in read if a.kind != "erc20"}
    return [
        ApprovalState(
            spender=spender,
            label=c.CONTRACT_NAMES[spender],
            pusd_allowance=allowances.get(spender),
            ctf_approved=operators.get(spender),
        )
        for spender in dict.fromkeys(a.spender for a, _ in read)
    ]


def missing_approvals(states: list[ApprovalState], balance: int) -> list[c.Approval]:
    """The approvals of `contracts.TRADING_APPROVALS` that the reads show missing (diagnosis's rule)."""
    by_spender = {state.spender: state for state in states}
    missing = []
    for approval in c.TRADING_APPROVALS:
        state = by_spender[approval.spender]
        short = (
            dx.pusd_allowance_short(state, balance)
            if approval.kind == "erc20"
            else dx.ctf_approval_missing(state)
        )
        if short:
            missing.append(approval)
    return missing


@dataclass(frozen=True, slots=True)
class AllowanceFix:
    """What `--fix-allowances` did: the approvals sent, and whether the CLOB was told to re-read."""

    granted: list[Granted]
    clob_error: str | None = None  # why the CLOB could not be asked to re-read (None: asked, or nothing sent)


class Granting(Protocol):
    async def grant(self, approval: c.Approval) -> tuple[str, Decimal]: ...


def fix_allowances(settings: Settings, *, consent: Consent) -> AllowanceFix:
    """Send, from the key's own EOA (signature type 0), every approval it lacks; nothing for what is
    set. Needs `--live` (and a confirmation) like every command that spends real funds (gas here).
    Then the CLOB is asked to re-read the wallet's allowances (it caches them)."""
    if settings.venue is not VenueName.POLYMARKET:
        raise UsageError(
            "--fix-allowances is for --venue polymarket: the local exchange checks no allowances"
        )
    if wallet_path(settings.signature_type) == "relayer":
        raise UsageError(
            f"a signature type {settings.signature_type} wallet's approvals are set through Polymarket's"
            " relayer: enable trading on polymarket.com with that wallet"
        )
    if not settings.rpc_url:
        raise UsageError(f"--fix-allowances needs a Polygon RPC: {RPC_FIX}")

    async def main(url: str | None) -> AllowanceFix:
        from polymm_cli.venues.polymarket.polygon import PolygonChain

        chain = polygon_chain(settings)
        if not isinstance(chain, PolygonChain) or settings.private_key is None:
            raise UsageError("--fix-allowances needs an EOA wallet, a key and an RPC URL")
        try:
            await chain.reader.check_chain()
            balance = await chain.reader.pusd_balance(chain.address)
            missing = missing_approvals(approval_states(await chain.reader.approvals(chain.address)), balance)
            clob = PolymarketVenue(_short(polymarket_config(settings, settings.private_key)), SystemClock())
            try:
                return await send_missing(chain, missing, clob)
            finally:
                await clob.close()
        finally:
            await chain.close()

    return on_venue(
        settings, main, action=Action.TRADE, consent=consent, what="send the missing approvals (gas in POL)"
    )


async def send_missing(chain: Granting, missing: list[c.Approval], clob: BalanceRefresher) -> AllowanceFix:
    """One transaction at a time (a failure says which were sent before it); once any was sent, the
    CLOB is asked to re-read the wallet's pUSD balance and allowances (`GET /balance-allowance/update`,
    protocol §3.7), so orders can use them at once: best effort, the approvals stand whatever it says."""
    granted: list[Granted] = []
    try:
        for approval in missing:
            try:
                tx_hash, pol = await chain.grant(approval)
            except VenueError as exc:
                before = ", ".join(g.tx_hash for g in granted) or "none"
                raise VenueError(f"{exc} (sent before it: {before})") from None
            granted.append(Granted(approval, tx_hash, pol))
    finally:
        clob_error = await _refresh_allowances(clob) if granted else None
    return AllowanceFix(granted, clob_error)


class BalanceRefresher(Protocol):
    async def start(self) -> None: ...

    async def refresh_balances(self, token_ids: list[str]) -> None: ...


async def _refresh_allowances(clob: BalanceRefresher) -> str | None:
    """`GET /balance-allowance/update` for the collateral (pUSD: its balance and its allowance to each
    exchange); None when the CLOB took it, else the error in one line. The CTF operator approvals are
    read per token (CONDITIONAL needs a token id): the CLOB re-reads a token when polymm splits,
    merges or redeems it (`chain.ClobRefreshing`)."""
    try:
        await clob.start()  # API credentials, created or derived as every command does
        await clob.refresh_balances([])
    except Exception as exc:  # the approvals are on chain; the CLOB re-reads them later by itself
        return describe(exc, 160)
    return None


def _without_prefix(error: str, prefix: str) -> str:
    """`prefix` + the error, said once (the venue's own message may already start with it)."""
    return prefix + error.removeprefix("VenueError: ").removeprefix(prefix)


def _local_chain_checks(clob_pusd: Decimal | None) -> list[Check]:
    none = "the local exchange has no chain"
    pusd = (
        dx.pusd_balance(clob_pusd, "the play wallet", "the local exchange's balance", LOCAL_PUSD_FIX)
        if clob_pusd is not None
        else dx.not_checked("pusd", "the exchange did not answer", "fix api-creds first")
    )
    return [
        dx.not_applicable("rpc", f"{none} (--rpc-url is for --venue polymarket)"),
        dx.not_applicable("wallet", "the play wallet signs as an EOA (type 0) for the local chain id"),
        dx.not_applicable("gas", f"{none}: nothing pays gas"),
        pusd,
        dx.not_applicable("approvals", "the local exchange checks no allowances"),
    ]


def _unchecked_chain(clob_pusd: Decimal | None, why: str, fix: str) -> list[Check]:
    """A Polymarket wallet whose chain could not be read: each chain check fails as not checked
    (the pUSD balance still shows what the CLOB sees, when it answered)."""
    pusd = (
        dx.pusd_balance(clob_pusd, "the funder", "as the CLOB sees it; not read on chain", PUSD_FIX)
        if clob_pusd is not None
        else dx.not_checked("pusd", why, fix)
    )
    return [
        dx.not_checked("rpc", why, fix),
        dx.not_checked("wallet", f"{why}: the wallet type is read from the chain", fix),
        dx.not_checked("gas", f"{why}: POL is read from the chain", fix),
        pusd,
        dx.not_checked("approvals", f"{why}: allowances are read from the chain", fix),
    ]
