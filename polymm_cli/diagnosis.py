"""`polymm doctor`'s judgements: observed facts in, one typed `Check` out; and how checks are shown.

Pure: no I/O, no clock, no settings. `services/doctor.py` observes (HTTP, RPC, the file system) and
hands the facts to the functions here; each decides pass or fail, says what it saw and, on a
failure, the fix (one line, a command or a setting where there is one).

Skipped checks (docs/doctor.md#skipped-checks): a check that does not apply where it runs (the local
exchange has no chain, so no gas, no approvals) is skipped and counts as a pass; a check that
applies but could not be run (a Polymarket wallet with no RPC URL: its gas, balances and approvals
are unknown) is skipped and counts as a FAILURE, so a live wallet is never declared ready unchecked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

EXIT_ALL_PASS = 0
EXIT_SOME_FAIL = 2

# Gas an EOA needs for its own transactions (approvals, split, merge, redeem): Polygon's usual
# 30-300 gwei x 100-250k gas is 0.003-0.075 POL a transaction; 0.1 POL leaves room for a few.
MIN_POL = Decimal("0.1")
# What `/time` (whole seconds) can tell us is about a second; order timestamps are ms and GTD
# expirations seconds, and L1 auth is reported to tolerate about a minute: beyond 5 s is a fault.
MAX_SKEW_S = 5.0


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class Check:
    """One line of `polymm doctor`. `ok` is what the exit code counts (a skipped check's `ok` says
    whether skipping it is fine here); `latency_ms` is set for checks that went over the network."""

    name: str
    status: Status
    ok: bool
    detail: str
    fix: str = ""
    latency_ms: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ok": self.ok,
            "status": self.status.value,
            "detail": self.detail,
            "fix": self.fix,
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 1),
        }


def passed(name: str, detail: str, latency_ms: float | None = None) -> Check:
    return Check(name, Status.PASS, True, detail, "", latency_ms)


def failed(name: str, detail: str, fix: str, latency_ms: float | None = None) -> Check:
    return Check(name, Status.FAIL, False, detail, fix, latency_ms)


def not_applicable(name: str, why: str) -> Check:
    """Skipped, and fine: the check has no meaning here (e.g. gas on the local exchange)."""
    return Check(name, Status.SKIPPED, True, f"skipped: {why}")


def not_checked(name: str, why: str, fix: str) -> Check:
    """Skipped, and a failure: the check applies but could not be run (e.g. no RPC URL)."""
    return Check(name, Status.SKIPPED, False, f"not checked: {why}", fix)


def exit_code(checks: Sequence[Check]) -> int:
    return EXIT_ALL_PASS if all(c.ok for c in checks) else EXIT_SOME_FAIL


def as_json(checks: Sequence[Check]) -> dict[str, Any]:
    return {"ok": all(c.ok for c in checks), "checks": [c.as_dict() for c in checks]}


def glyph(check: Check) -> str:
    if not check.ok:
        return "✗"
    return "-" if check.status is Status.SKIPPED else "✓"


def render(check: Check, name_width: int = 12) -> str:
    """`✓ name  detail (12 ms)` or `✗ name  detail — fix: ...` (the fix on the same line)."""
    latency = "" if check.latency_ms is None else f" ({check.latency_ms:.0f} ms)"
    line = f"{glyph(check)} {check.name:<{name_width}} {check.detail}{latency}"
    return f"{line} — fix: {check.fix}" if check.fix and not check.ok else line


def render_all(checks: Sequence[Check]) -> list[str]:
    width = max((len(c.name) for c in checks), default=0) + 1
    failures = sum(not c.ok for c in checks)
    summary = "all checks pass" if not failures else f"{failures} of {len(checks)} checks fail"
    return [*(render(c, width) for c in checks), summary]


# -- judgements ------------------------------------------------------------------------------------


def ms(seconds: float) -> float:
    return seconds * 1000.0


def reachable(name: str, what: str, latency_s: float, error: str | None, fix: str) -> Check:
    """An endpoint answered (`error` None) or did not."""
    if error is None:
        return passed(name, f"{what} reachable", ms(latency_s))
    return failed(name, f"{what} unreachable: {error}", fix, ms(latency_s))


def clock_skew(server_s: int, sent_at: float, received_at: float) -> Check:
    """Our clock against the exchange's `/time` (whole seconds: the server's true time lies in
    [server_s, server_s + 1), and we compare it with the middle of our request)."""
    skew = (server_s + 0.5) - (sent_at + received_at) / 2
    uncertainty = 0.5 + (received_at - sent_at) / 2
    detail = f"{skew:+.1f} s against the exchange's /time (±{uncertainty:.1f} s)"
    latency = ms(received_at - sent_at)
    if abs(skew) - uncertainty > MAX_SKEW_S:
        fix = "sync the system clock (e.g. `sudo timedatectl set-ntp true`, or `chronyc makestep`)"
        return failed("clock", f"off by {detail}", fix, latency)
    return passed("clock", detail, latency)


def geoblock(body: Any, latency_s: float) -> Check:
    """Polymarket's `GET /api/geoblock` answer: {"blocked", "ip", "country", "region"}."""
    if not isinstance(body, Mapping) or not isinstance(body.get("blocked"), bool):
        return failed(
            "geoblock", "the geoblock endpoint answered something else", "retry later", ms(latency_s)
        )
    where = "-".join(str(body[k]) for k in ("country", "region") if body.get(k))
    where = where or str(body.get("note") or "location unknown")
    if body["blocked"]:
        fix = "Polymarket refuses orders from this location: trade only where it is permitted"
        return failed("geoblock", f"blocked ({where})", fix, ms(latency_s))
    return passed("geoblock", f"not blocked ({where})", ms(latency_s))


def pol_balance(balance: Decimal, signature_type: int, payer: str) -> Check:
    """POL for gas: an EOA (type 0) pays for its own approvals, splits and merges; a contract
    wallet's transactions go through Polymarket's relayer, which pays."""
    shown = f"{_amount(balance)} POL at {payer}"
    if signature_type != 0:
        return passed("gas", f"{shown} (not needed: the relayer pays a contract wallet's gas)")
    if balance < MIN_POL:
        fix = f"send at least {MIN_POL} POL (Polygon's gas token) to {payer}"
        return failed("gas", f"{shown}: below {MIN_POL} POL, too little for transactions", fix)
    return passed("gas", shown)


def pusd_balance(balance: Decimal, holder: str, source: str, fix: str) -> Check:
    """Trading and splitting spend pUSD: none at all is a failure."""
    shown = f"{_amount(balance)} pUSD at {holder} ({source})"
    if balance <= 0:
        return failed("pusd", f"{shown}: nothing to trade with", fix)
    return passed("pusd", shown)


def relayer(signature_type: int, builder_creds: bool) -> Check:
    """Seed, merge and redeem of a proxy or Safe wallet (types 1, 2) go through Polymarket's relayer,
    which needs builder API credentials; an EOA sends its own; polymm does not drive a deposit
    wallet (type 3) on chain. Trading itself needs none of this."""
    if signature_type == 0:
        return not_applicable("relayer", "an EOA sends its own transactions")
    if signature_type == 3:
        return not_applicable(
            "relayer", "polymm does not drive a deposit wallet on chain: seed and merge in the UI"
        )
    if builder_creds:
        return passed(
            "relayer", "builder API credentials set (seed, merge and redeem go through the relayer)"
        )
    fix = "set POLYMM_BUILDER_API_KEY, POLYMM_BUILDER_SECRET and POLYMM_BUILDER_PASSPHRASE"
    return failed(
        "relayer", "no builder API credentials: seed, merge and redeem through the relayer need them", fix
    )


@dataclass(frozen=True, slots=True)
class ApprovalState:
    """One spender's approvals as read on chain: pUSD allowance (base units) and CTF operator."""

    spender: str
    label: str
    pusd_allowance: int | None  # None: this spender needs no pUSD allowance
    ctf_approved: bool | None  # None: this spender needs no CTF approval


def pusd_allowance_short(state: ApprovalState, balance: int) -> bool:
    """The spender needs a pUSD allowance and it is zero or below the wallet's pUSD `balance`."""
    allowance = state.pusd_allowance
    return allowance is not None and (allowance <= 0 or allowance < balance)


def ctf_approval_missing(state: ApprovalState) -> bool:
    return state.ctf_approved is False


def approvals(states: Sequence[ApprovalState], fix: str, balance: int) -> list[Check]:
    """One check per spender: every approval it needs is set. A pUSD allowance must cover the
    wallet's pUSD `balance` (base units; Polymarket sets the maximum), a CTF operator approval must
    be on; what is missing names itself."""
    checks = []
    for state in states:
        missing = []
        allowance = state.pusd_allowance
        if allowance is not None and pusd_allowance_short(state, balance):
            missing.append(
                "pUSD approve" if allowance <= 0 else f"pUSD allowance ({_units(allowance)} < balance)"
            )
        if ctf_approval_missing(state):
            missing.append("CTF setApprovalForAll")
        name = f"approval {state.label}"
        if missing:
            checks.append(failed(name, f"missing {' and '.join(missing)} for {state.spender}", fix))
            continue
        set_ = [what for what, need in (("pUSD", allowance), ("CTF", state.ctf_approved)) if need]
        checks.append(passed(name, f"{' + '.join(set_)} approved for {state.spender}"))
    return checks


def _units(base_units: int) -> str:
    return _amount(Decimal(base_units).scaleb(-6))


def _amount(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.000001')).normalize():f}"
