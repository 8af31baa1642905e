"""The whole configuration: every section, the universe's lists, and where each value may
come from (secrets from the environment only, never the YAML file)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import (
    Field,
    PrivateAttr,
)
from pydantic_settings import (
    BaseSettings,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from monitor.chain.mapped import ColumnMap
from monitor.config.sections import (
    SPX_ADV_SOURCE,
    SPX_ADV_UNITS,
    AlertingSettings,
    AlertSecrets,
    BoundsSettings,
    DatabentoSettings,
    EmbeddedSettings,
    IntervalSettings,
    KafkaSettings,
    MetricsSettings,
    PricingSettings,
    RedisSettings,
    RegimeSettings,
    SizingSettings,
    StreamSettings,
    UnderlyingSettings,
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DEALERFLOW_", env_nested_delimiter="__",
                                      extra="forbid", env_ignore_empty=True)

    log_format: Literal["auto", "json", "console"] = "auto"
    pricing: PricingSettings = PricingSettings()
    underlyings: dict[str, UnderlyingSettings] = {
        "SPX": UnderlyingSettings(settlement="am_monthly", exercise="european",
                                  adv_shares=SPX_ADV_UNITS, adv_source=SPX_ADV_SOURCE,
                                  div_yield=0.013, es_multiplier=50.0, vol_index="VIX"),
    }
    kafka: KafkaSettings = KafkaSettings()
    databento: DatabentoSettings = DatabentoSettings()
    redis: RedisSettings = RedisSettings()
    metrics: MetricsSettings = MetricsSettings()
    stream: StreamSettings = StreamSettings()
    intervals: IntervalSettings = IntervalSettings()
    bounds: BoundsSettings = BoundsSettings()
    embedded: EmbeddedSettings = EmbeddedSettings()
    regimes: RegimeSettings = RegimeSettings()
    chains: list[str] = Field(default_factory=list, description=(
        "chain files giving each underlying's universe and open interest at start "
        "(relative to the config file); empty = embedded.chain"))
    chain_layouts: dict[str, ColumnMap] = Field(default_factory=dict, description=(
        "other vendors' chain files (CSV or Parquet): name -> the vendor's column for each "
        "field (docs/chain-layouts.md)"))
    data_dir: str | None = Field(None, description="the real-data folder (shared/data "
                                 "layout) for `daily` and `study`, relative to the config "
                                 "file; None = searched (monitor.paths)")
    sizing: SizingSettings = SizingSettings()
    alerting: AlertingSettings = AlertingSettings()
    alerts: AlertSecrets = AlertSecrets()

    _config_file: Path | None = PrivateAttr(None)
    _config_origin: str = PrivateAttr("defaults")

    @property
    def config_file(self) -> Path | None:
        """The YAML file these settings were read from (None: built in code)."""
        return self._config_file

    @property
    def config_origin(self) -> str:
        """How the file was found: ``--config``, ``$DEALERFLOW_CONFIG``, ``./config.yaml``,
        ``packaged default`` (or ``defaults``: built in code)."""
        return self._config_origin

    @property
    def demo_redis_prefix(self) -> str:
        """The Redis prefix of the embedded simulator's runs: ``{redis.prefix}-demo``, so a
        demo never writes where a live (Kafka) run reads."""
        return f"{self.redis.prefix}-demo"

    def demo_keys(self, kind: str = "demo") -> "Settings":
        """These settings with the Redis keys under :attr:`demo_redis_prefix` (the
        embedded simulator writes there; ``--demo`` reads there), or for ``kind``
        ``"replay"`` under ``{redis.prefix}-replay`` (``monitor run --replay``): neither
        writes where a live run reads, nor where the other does."""
        prefix = self.demo_redis_prefix if kind == "demo" else f"{self.redis.prefix}-{kind}"
        return self.model_copy(update={"redis": self.redis.model_copy(
            update={"prefix": prefix})})

    @property
    def base(self) -> Path | None:
        """Folder that relative paths of the configuration start from."""
        return None if self._config_file is None else self._config_file.resolve().parent

    def bounds_for(self, root: str) -> BoundsSettings:
        """The ``bounds`` section with ``root``'s overrides (``underlyings.ROOT.bounds``)."""
        over = self.underlying(root).bounds
        unknown = set(over) - set(BoundsSettings.model_fields)
        if unknown:
            raise ValueError(f"underlyings.{root}.bounds: unknown key(s) "
                             f"{', '.join(sorted(unknown))}")
        return BoundsSettings(**{**self.bounds.model_dump(), **over})

    def underlying(self, root: str) -> UnderlyingSettings:
        """Settings of ``root`` (``SPXW`` -> ``SPX``), defaults where not configured."""
        root = root.upper()
        if root in self.underlyings:
            return self.underlyings[root]
        for name in (root.rstrip("W"), root.rstrip("P")):
            if name in self.underlyings:
                return self.underlyings[name]
        return UnderlyingSettings()


SECRET_SECTIONS = ("alerts",)

#: single secret keys inside otherwise public sections
SECRET_KEYS = (("redis", "password"), ("kafka", "sasl_password"), ("metrics", "token"))


class YamlWithoutSecrets(YamlConfigSettingsSource):
    def __call__(self):
        data = super().__call__()
        for key in SECRET_SECTIONS:
            if key in data:
                raise ValueError(f"{self.yaml_file_path}: a config file must not contain "
                                 f"'{key}': secrets come from the environment only "
                                 f"(DEALERFLOW_{key.upper()}__...)")
        for section, key in SECRET_KEYS:
            if isinstance(data.get(section), dict) and key in data[section]:
                raise ValueError(f"{self.yaml_file_path}: a config file must not contain "
                                 f"{section}.{key}: use DEALERFLOW_{section.upper()}__"
                                 f"{key.upper()}")
        return data
