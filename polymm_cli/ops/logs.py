"""The run log: a rotating file in the data dir, human-readable or JSON lines, with every secret scrubbed.

What goes in: the engine's warnings and errors (halts, feed losses, failures), every decision record
(`polymm.decisions`), every order event (`polymm.orders`: placed, refused, cancelled, fills, halts,
stop-losses, the stop) and what other polymm modules log at INFO and above; other libraries' records
at WARNING and above only.

Writing never happens on the engine's loop: records go through a `QueueHandler` to a
`QueueListener` thread that owns the `RotatingFileHandler` and does the scrubbing and formatting
too (the loop only makes the record and queues it: a write, a rotation or a regex never stalls a
decision). `Redactor` scrubs the known secrets (the private key, the API secret and passphrase, the
webhook tokens) from each record's text and again from each formatted line, so neither a message, an
argument, a structured field nor a traceback can carry one into the file or onto stderr.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import logging.handlers
import os
import queue
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from polymm_cli.engine.config import StopReport
from polymm_cli.engine.observer import EngineObserver
from polymm_cli.model import Side

LogFormat = Literal["text", "json"]
REDACTED = "[REDACTED]"
MIN_SECRET_LENGTH = 6  # shorter strings would scrub ordinary words; no real secret is that short
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
orders_log = logging.getLogger("polymm.orders")
decisions_log = logging.getLogger("polymm.decisions")


class Redactor:
    """Replaces each known secret (and its variants: without 0x, upper and lower case) by [REDACTED]."""

    def __init__(self, secrets: Iterable[str]) -> None:
        variants: set[str] = set()
        for secret in secrets:
            text = secret.strip()
            for form in (text, text.removeprefix("0x"), text.removeprefix("0X")):
                if len(form) >= MIN_SECRET_LENGTH:
                    variants.add(form)
        # longest first: a secret containing another is replaced whole
        ordered = sorted(variants, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered)), re.IGNORECASE) if ordered else None

    def scrub(self, text: str) -> str:
        return self._pattern.sub(REDACTED, text) if self._pattern is not None else text


class RedactingFilter(logging.Filter):
    """Scrubs a record's message (arguments merged in), structured fields and traceback in place."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        scrub = self.redactor.scrub
        record.msg = scrub(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = scrub(record.exc_text)
        fields = getattr(record, "fields", None)
        if fields is not None:
            record.fields = json.loads(scrub(json.dumps(fields, default=str)))
        return True


class ScrubbingFormatter(logging.Formatter):
    """Another formatter's output, scrubbed once more (what reaches the file or stderr)."""

    def __init__(self, inner: logging.Formatter, redactor: Redactor) -> None:
        super().__init__()
        self.inner = inner
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        return self.redactor.scrub(self.inner.format(record))


class JsonLineFormatter(logging.Formatter):
    """One JSON object per line: ts (UTC ISO 8601), level, logger, message, the record's structured
    `fields` (a decision record, an order event) and the traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            kind = fields.get("event", "record")
            for key, value in fields.items():  # the line's own keys win: a decision's ts is decision_ts
                line[f"{kind}_{key}" if key in line else key] = value
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["traceback"] = record.exc_text
        return json.dumps(line, default=str)


class _ToListener(logging.handlers.QueueHandler):
    """Hands a copy of the record to the listener thread as it is: merging the arguments, scrubbing
    and formatting happen there, off the engine's loop (the stock `prepare` formats here, and folds
    the traceback into the message, which the JSON lines keep apart)."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return copy.copy(record)


class _Relevant(logging.Filter):
    """polymm's records at INFO and above, every other library's at WARNING and above."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.name.startswith("polymm") or record.levelno >= logging.WARNING


class _PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A RotatingFileHandler whose files are created readable by the owner only (0600)."""

    def _open(self) -> Any:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        return os.fdopen(fd, "a", encoding=self.encoding)


def formatter_for(fmt: LogFormat) -> logging.Formatter:
    if fmt == "json":
        return JsonLineFormatter()
    formatter = logging.Formatter(TEXT_FORMAT)
    formatter.converter = _utc  # the same UTC times as the ledger and the JSON lines
    return formatter


def _utc(seconds: float | None) -> Any:
    return datetime.fromtimestamp(seconds or 0.0, UTC).timetuple()


@contextlib.contextmanager
def run_log(
    path: Path, *, fmt: LogFormat, max_bytes: int, backups: int, redactor: Redactor
) -> Iterator[Path]:
    """Log to `path` (rotated at `max_bytes`, `backups` old files kept) while the block runs; the
    handlers already on the root logger (stderr) keep their level and get the same scrubbing."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    file_handler = _PrivateRotatingFileHandler(
        path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
    )
    file_handler.setFormatter(ScrubbingFormatter(formatter_for(fmt), redactor))
    file_handler.addFilter(RedactingFilter(redactor))  # in the listener's thread
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    to_file = _ToListener(records)
    to_file.addFilter(_Relevant())
    listener = logging.handlers.QueueListener(records, file_handler, respect_handler_level=True)
    root = logging.getLogger()
    previous = root.level
    others = list(root.handlers)
    saved = [(h, h.level, h.formatter) for h in others]
    for handler in others:  # stderr stays as quiet as it was, and scrubbed too
        handler.setLevel(max(handler.level, previous))
        handler.setFormatter(ScrubbingFormatter(handler.formatter or logging.Formatter(), redactor))
    root.setLevel(min(previous, logging.INFO) if previous else logging.INFO)
    root.addHandler(to_file)
    listener.start()
    try:
        yield path
    finally:
        root.removeHandler(to_file)
        listener.stop()  # writes what is queued, then stops the thread
        file_handler.close()
        root.setLevel(previous)
        for handler, level, formatter in saved:
            handler.setLevel(level)
            handler.setFormatter(formatter)


def log_decision(record: dict[str, Any]) -> None:
    """One decision record in the log (the same dict `--headless` prints)."""
    if not decisions_log.isEnabledFor(logging.INFO):
        return
    decisions_log.info(
        "decision %s: place %d, cancel %d, keep %d, mid %s%s",
        record.get("market", "?"),
        record.get("places", 0),
        record.get("cancels", 0),
        record.get("kept", 0),
        record.get("mid"),
        f" ({record['note']})" if record.get("note") else "",
        extra={"fields": {"event": "decision", **record}},
    )


class OrderLog(EngineObserver):
    """Order events and the engine's turns as log records (`polymm.orders`), with their fields."""

    def _event(self, level: int, message: str, **fields: Any) -> None:
        if orders_log.isEnabledFor(level):
            orders_log.log(level, message, extra={"fields": {"event": fields.pop("event"), **fields}})

    def order_placed(
        self, market: str, order_id: str, side: Side, price: Decimal, size: Decimal, tag: str
    ) -> None:
        self._event(
            logging.INFO,
            f"placed {tag} {side.value} {size} @ {price} in {market} ({order_id})",
            event="order_placed",
            market=market,
            order_id=order_id,
            side=side.value,
            price=str(price),
            size=str(size),
            tag=tag,
        )

    def order_refused(self, market: str, source: str, reason: str) -> None:
        self._event(
            logging.INFO,
            f"order refused by {source} in {market}: {reason}",
            event="order_refused",
            market=market,
            source=source,
            reason=reason,
        )

    def orders_cancelled(self, market: str | None, count: int) -> None:
        if count:
            self._event(
                logging.INFO,
                f"cancelled {count} in {market}",
                event="orders_cancelled",
                market=market,
                count=count,
            )

    def fill(self, market: str, outcome: str, side: Side, price: Decimal, size: Decimal) -> None:
        self._event(
            logging.INFO,
            f"fill {side.value} {size} {outcome} @ {price} in {market}",
            event="fill",
            market=market,
            outcome=outcome,
            side=side.value,
            price=str(price),
            size=str(size),
        )

    def stream(self, name: str, connected: bool, reason: str) -> None:
        state = "up" if connected else f"down ({reason})" if reason else "down"
        self._event(logging.INFO, f"{name} {state}", event="stream", stream=name, connected=connected)

    def stop_loss(self, market: str, reason: str) -> None:
        self._event(logging.WARNING, f"stop-loss in {market}: {reason}", event="stop_loss", market=market)

    def exit_done(self, market: str, flat: bool, detail: str) -> None:
        where = "flat" if flat else "not flat"
        self._event(
            logging.WARNING, f"exit in {market} done ({where}): {detail}", event="exit_done", market=market
        )

    def stopped(self, report: StopReport) -> None:
        # WARNING, not ERROR: stderr carries errors, and the command's own line already says this there
        level = logging.INFO if report.confirmed else logging.WARNING
        self._event(
            level,
            f"stop: {report.summary()}",
            event="stop",
            confirmed=report.confirmed,
            cancelled=report.cancelled,
            may_be_open=report.may_be_open,
        )
