"""The quoting engine: one bot's event loop over the Venue port.

    market events ─▶ books ─▶ dirty markets ─▶ decide: quoter → reconcile → risk ─▶ venue (cancel, place)
    user events   ─▶ our orders; fills ─▶ ledger (append-only) ─▶ positions (incremental) ─▶ dirty
    health        ─▶ market feed, user stream, heartbeat, order path, halt: unhealthy pulls every
                     quote at once, healthy again requotes; never a quote on stale data or a guess
    timers        ─▶ on the injected clock: heartbeats, the halt poll, time-driven rules, duration

Modules: `loop` (QuotingEngine: lifecycle and supervision, health, events, decisions, acting on the
venue), `config` (EngineConfig, StopReport), `state` (one market's state and its positions),
`exit` (the stop-loss and the exit round shared with `polymm liquidate`), `view` (the dashboard's
snapshot), `leaving` (cancelled orders the feed still shows, kept out of the book without us).
The engine knows the Venue protocol only, never a concrete venue, reads time only from the
injected clock, and owns no files: the halt signal and the decision log are callables handed in.
"""

from polymm_cli.engine.config import EngineConfig, StopReport
from polymm_cli.engine.loop import QuotingEngine

__all__ = ["EngineConfig", "QuotingEngine", "StopReport"]
