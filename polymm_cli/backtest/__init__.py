"""Judging a strategy on recorded or imported market data: the recording format and its importers,
the simulated fills, the replay and its results.

Beside the engine, never under it: this package may use the engine and the pure core, the venue port
(`venues.base`, `venues.books`) and the one wire parser (`venues.polymarket.wire`), but never `cli` or
`services`; the engine never imports it (tests/test_layers.py holds both rules).
"""
