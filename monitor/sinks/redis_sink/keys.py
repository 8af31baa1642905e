"""The key layout under the prefix (package docstring): one place that names every key."""

from __future__ import annotations


class RedisKeys:
    """The keys of :class:`~monitor.sinks.redis_sink.RedisSink` (a part of it)."""

    # -- keys ---------------------------------------------------------------------------
    def state_key(self, root: str) -> str:
        return f"{self.prefix}:{root}:state"

    def profile_key(self, root: str) -> str:
        return f"{self.prefix}:{root}:profile"

    def events_key(self, root: str) -> str:
        return f"{self.prefix}:{root}:events"

    def tape_key(self, root: str) -> str:
        return f"{self.prefix}:{root}:hedge_pressure"

    # -- checkpoints (resume after a restart) ---------------------------------------------
    def blob_key(self, root: str, name: str) -> str:
        return f"{self.settings.prefix}:{root}:{name}"

    def checkpoint_key(self, root: str) -> str:
        return self.blob_key(root, "checkpoint")
