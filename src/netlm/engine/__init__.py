"""The assessment engine: pure, deterministic, no I/O."""

from netlm.engine.assess import assess

__all__ = ["assess"]
