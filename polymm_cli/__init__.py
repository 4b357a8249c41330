"""polymm: a market maker for Polymarket CLOB V2, with a local Polymarket-compatible exchange."""

__version__ = "0.1.0"
