"""Running unattended: Prometheus metrics (`metrics`), webhook alerts (`alerts`) and the rotating,
redacted run log (`logs`). Each listens to the engine as an `engine.observer.EngineObserver` or reads
its public state when asked; none of them is on the engine's critical path, and none of them reads
settings (the services compose them from plain values).
"""
