"""Settings: ``config.yaml`` (every key documented there) with environment overrides.

Precedence, highest first: keyword arguments (the CLI's options), environment variables
``DEALERFLOW_<SECTION>__<KEY>`` (e.g. ``DEALERFLOW_REDIS__URL``,
``DEALERFLOW_PRICING__RATE``), the YAML file, the defaults below.

The YAML file (:func:`locate_config`) is ``--config FILE``, else ``$DEALERFLOW_CONFIG``
(either must exist), else ``./config.yaml`` when there is one, else the default shipped in
the package (:func:`monitor.paths.packaged_config`). Relative paths in a configuration
(``chains``, ``embedded.chain``, ``data_dir``, position files) are relative to the folder
of the file they are written in: :attr:`Settings.base`.

Secrets (webhook URLs, passwords) are never read from the YAML file: only from the
environment, as ``SecretStr`` so they do not appear in logs or reprs.
"""

from __future__ import annotations

import difflib
import os
import typing
from pathlib import Path
from typing import Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from monitor.chain.mapped import ColumnMap
from monitor.core.positions import MODELS
from monitor.paths import DATA_ENV, packaged_config

PositionModel = Literal[MODELS + ("flow", "positions")]  # type: ignore[valid-type]


class Section(BaseModel):
    """A section of the configuration: an unknown key at any depth is an error (a typo
    must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid")


class UnderlyingSettings(Section):
    multiplier: float = Field(100.0, gt=0, description="shares (index units) per contract")
    settlement: Literal["pm", "am_monthly"] = Field(
        "pm", description="am_monthly: the bare root's third-Friday contracts settle at 09:30 ET")
    exercise: Literal["european", "american"] = Field(
        "american", description="european (cash-settled indexes: SPX, NDX, RUT, VIX, XSP): "
        "rates from put-call parity; american (equities, ETFs): early exercise breaks "
        "parity, so the configured pricing.rates")
    adv_shares: float = Field(0.0, ge=0, description="average daily volume in units of the "
                              "underlying (shares; index units for an index; 0 = unknown)")
    adv_source: str = Field("", description="where adv_shares comes from (shown beside % of ADV)")
    div_yield: float = Field(0.0, description="continuous, decimal; used only without parity")
    position_model: PositionModel = "classic"  # type: ignore[valid-type]
    es_multiplier: float = Field(0.0, ge=0, description="$ per index point of the index future "
                                 "flows are also given in (ES 50, NQ 20, RTY 50; 0 = none)")
    futures_symbol: str = Field("ES", description="that future's symbol (ES, NQ, RTY)")
    flow_base_model: Literal[MODELS] = Field(  # type: ignore[valid-type]
        "classic", description="flow model: positions at the open, before trade prints")
    vol_index: str | None = Field(None, description="volatility-index symbol of the regimes' "
                                  "put-premium measure (e.g. VIX); None = ATM IV")
    user_delta_usd: float | None = Field(None, description="your dollar delta for the sizing "
                                         "advice in the published state (None = no position)")
    user_positions_file: str | None = Field(None, description="your positions for the sizing "
                                            "advice: CSV symbol,contracts (relative to the "
                                            "config file); overrides user_delta_usd")
    positions_file: str | None = Field(
        None, description="positions model: CSV symbol,dealer_contracts (relative to config)")
    bounds: dict[str, float] = Field(default_factory=dict, description="this underlying's "
                                     "overrides of the bounds section, key by key")


#: SPX's average daily volume in index units, the default of the packaged configuration:
#: SPY's mean daily dollar volume over the 21 sessions of July 2025 ($43.72bn, 1-minute bars
#: with extended hours: shared/data/intraday/SPY_1min_2025-07-01_2025-07-30_ext_hours.csv.gz)
#: over the mean SPX close of those sessions (6,294.46, shared/data/market_daily/
#: SPX_ohlc_2016-2026-08.csv): the SPY-equivalent liquidity of a dealer's index hedge
SPX_ADV_UNITS = 6_945_196.0
SPX_ADV_SOURCE = ("SPY dollar volume, July 2025 (21 sessions, 1-min bars incl. extended "
                  "hours), in SPX units")


class BoundsSettings(Section):
    """What a well-formed tick may say before it is believed (REFERENCE.md's units)."""

    max_price_x: float = Field(3.0, gt=0, description="an option price above this multiple "
                               "of max(strike, spot at start) is absurd_price (a call is "
                               "worth at most the spot, a put the strike)")
    max_trade_contracts: float = Field(1e6, gt=0, description="a print of more contracts is "
                                       "absurd_size")
    max_oi_contracts: float = Field(1e7, gt=0, description="more open interest in one "
                                    "contract is absurd_oi")
    max_spot_x: float = Field(3.0, gt=1, description="a spot above this multiple of the "
                              "chain's spot at start, or below its inverse, is absurd_price "
                              "however many ticks repeat it (the band below only holds a "
                              "spot until confirmed)")
    spot_band_pct: float = Field(20.0, gt=0, description="a spot this far from the last "
                                 "good one is held (spot_unconfirmed) until confirmed")
    spot_confirm_ticks: int = Field(3, ge=1, description="consecutive ticks within the band "
                                    "of each other that confirm a spot jump")
    max_vol_index: float = Field(500.0, gt=0, description="a volatility index above this is "
                                 "absurd_price")
    max_clock_skew_s: float = Field(300.0, ge=0, description="a tick dated more than this "
                                    "after its underlying's event clock is future_ts, until "
                                    "clock_jump_confirm such ticks confirm the jump (0 = off)")
    clock_jump_confirm: int = Field(3, ge=1, description="ticks within max_clock_skew_s of "
                                    "each other that confirm a jump of the event clock")
    clock_jump_window_s: float = Field(60.0, gt=0, description="a tick's vote for a clock "
                                       "jump expires once its underlying's event clock has "
                                       "moved this far past where it stood when the vote "
                                       "was cast (event time)")
    max_past_s: float = Field(86400.0, ge=0, description="a tick dated more than this before "
                              "its underlying's event clock is past_ts (0 = off)")


class PricingSettings(Section):
    rate: float = Field(0.04, description="continuously compounded risk-free rate, decimal")
    rates: dict[float, float] = Field(default_factory=dict, description="a term structure "
                                      "{tenor_days: rate}: linear in days between its points, "
                                      "flat beyond them; empty = rate at every tenor")
    parity_pairs: int = Field(5, ge=1, description="strikes nearest the money used for forwards")
    smile: bool = Field(True, description="fit a smile per expiry; one-sided, zero-bid and "
                        "wide quotes take its IV")
    smile_refit_s: float = Field(60.0, gt=0, description="event seconds between smile refits")


class KafkaTopics(Section):
    layout: Literal["single", "per_kind"] = Field(
        "single", description="single: every tick in one topic keyed by underlying (wire "
        "v2, what scale-out needs); per_kind: one topic per tick kind (wire v1, read for "
        "compatibility, one process only)")
    ticks: str = "dealerflow.ticks"
    option_quotes: str = "dealerflow.option_quotes"
    option_trades: str = "dealerflow.option_trades"
    underlying: str = "dealerflow.underlying"
    open_interest: str = "dealerflow.open_interest"
    vol_index: str = "dealerflow.vol_index"
    dead_letter: str = "dealerflow.dead_letter"


class KafkaSettings(Section):
    bootstrap: str | None = Field(None, description="HOST:PORT; None = embedded source")
    group_id: str = "dealerflow-monitor"
    topics: KafkaTopics = KafkaTopics()
    encoding: Literal["json", "binary", "records"] = Field(
        "json", description="json | binary (msgpack arrays) | records (fixed-width quote "
        "records, the fastest)")
    max_records: int = Field(5000, ge=1, description="records per getmany() batch")
    poll_timeout_ms: int = Field(50, ge=1)
    session_timeout_ms: int = Field(10000, ge=100, description="consumer group session timeout")
    heartbeat_interval_ms: int = Field(3000, ge=10)
    fetch_max_wait_ms: int = Field(10, ge=0, description="longest a fetch waits for data: "
                                   "low = low latency (aiokafka's default 500 adds up to "
                                   "0.5 s per tick on quiet partitions)")
    max_message_bytes: int = Field(
        1_000_000, ge=1024, description="the broker's message.max.bytes: dead-letter values "
        "are truncated to fit (the original size in a header)")
    checkpoint_s: float = Field(10.0, gt=0, description="a checkpoint of every owned "
                                "underlying at least this often (wall seconds)")
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = Field(None, description="from "
                                            "DEALERFLOW_KAFKA__SASL_PASSWORD only")
    ssl_cafile: str | None = Field(None, description="CA bundle for SSL / SASL_SSL "
                                   "(None: the system's)")
    ssl_certfile: str | None = Field(None, description="client certificate (mutual TLS)")
    ssl_keyfile: str | None = None

    @model_validator(mode="after")
    def _sasl_complete(self) -> "KafkaSettings":
        """SASL needs its mechanism, user and password: refused when the settings are
        read, not when the first connection is tried."""
        if self.security_protocol.startswith("SASL"):
            if self.sasl_mechanism is None:
                raise ValueError(f"security_protocol {self.security_protocol} needs "
                                 f"kafka.sasl_mechanism (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)")
            if self.sasl_username is None or self.sasl_password is None:
                raise ValueError("SASL needs kafka.sasl_username and DEALERFLOW_KAFKA__"
                                 "SASL_PASSWORD")
        return self


class UnderlyingFeed(Section):
    """An underlying's own quotes from another Databento dataset: a stock (``SPY`` in
    ``EQUS.MINI``) or a futures contract carried back to the spot (``ESZ6`` in
    ``GLBX.MDP3``)."""

    dataset: str
    symbol: str = Field(description="raw symbol (stype_in raw_symbol)")
    quotes: str = Field("mbp-1", description="the schema of its top of book: mbp-1, "
                        "bbo-1s, cmbp-1")


class DatabentoSettings(Section):
    """Databento's live feed (``monitor bridge databento``); the key only from the
    environment, ``DATABENTO_API_KEY``."""

    dataset: str = "OPRA.PILLAR"
    schemas: list[str] = Field(
        default_factory=lambda: ["definition", "statistics", "cmbp-1", "tcbbo"],
        description="definitions, open interest, consolidated quotes, trades with their "
        "quote")
    symbols: list[str] = Field(default_factory=lambda: ["SPX.OPT", "SPXW.OPT"],
                               description="parent symbols (stype_in parent)")
    gateway: str | None = Field(None, description="host; None = the vendor's own for the "
                                "dataset")
    port: int = Field(13000, ge=1, le=65535)
    batch_ms: float = Field(20.0, gt=0, description="records gathered into one batch for "
                            "at most this long")
    underlying_feeds: dict[str, UnderlyingFeed] = Field(
        default_factory=dict, description="underlying -> its own quotes from another "
        "dataset; an underlying without one gets its spot implied from put-call parity")

    @model_validator(mode="after")
    def _feeds_elsewhere(self) -> "DatabentoSettings":
        for root, f in self.underlying_feeds.items():
            if f.dataset == self.dataset:
                raise ValueError(f"databento.underlying_feeds.{root}: dataset {f.dataset} is "
                                 "the options' own; an underlying feed is another dataset's")
        return self

    def feed_symbols(self) -> dict[str, str]:
        """Raw symbol -> underlying, of every configured underlying feed."""
        return {f.symbol: root.upper() for root, f in self.underlying_feeds.items()}


class RedisSettings(Section):
    url: str = "redis://127.0.0.1:6379/0"
    prefix: str = "dealerflow"
    stream_maxlen: int = Field(10000, ge=1, description="approximate cap of the events stream")
    buffer_max: int = Field(10000, ge=1, description="events held while Redis is down")
    password: SecretStr | None = Field(None, description="from DEALERFLOW_REDIS__PASSWORD only")
    username: str | None = Field(None, description="Redis 6 ACL user (None: default)")
    ssl_ca_certs: str | None = Field(None, description="CA bundle for rediss:// URLs "
                                     "(None: the system's)")
    unreachable_ready_s: float = Field(
        30.0, gt=0, description="/readyz fails once Redis has been unreachable this long")


class MetricsSettings(Section):
    host: str = Field("127.0.0.1", description="bind address of /metrics /healthz /readyz; "
                      "0.0.0.0 only where something else guards it (containers)")
    port: int = Field(9108, ge=0, le=65535, description="0 = pick a free port")
    token: SecretStr | None = Field(None, description="bearer token required on /metrics "
                                    "(from DEALERFLOW_METRICS__TOKEN only; the probes stay "
                                    "open)")
    max_connections: int = Field(64, ge=1, description="concurrent HTTP connections; more "
                                 "are refused with 503")
    stall_s: float = Field(30.0, gt=0, description="/readyz fails while the consumer has "
                           "lag but applied nothing for this long")


class StreamSettings(Section):
    history: int = Field(600, ge=1, description="events /stream keeps for new clients and "
                         "resumes (Last-Event-ID): a state per underlying per publish cycle")
    retry_ms: int = Field(1000, ge=100, description="reconnection delay a client is told")
    write_timeout_s: float = Field(10.0, gt=0, description="a client that does not take an "
                                   "event within this is disconnected (it reconnects)")
    stale_after_s: float = Field(10.0, gt=0, description="the wall page says STALE when its "
                                 "newest state is older than this (wall clock)")


class IntervalSettings(Section):
    reeval_ms: float = Field(250.0, gt=0, description="event time after which an underlying tick re-evaluates")
    reeval_bps: float = Field(5.0, ge=0, description="spot move that forces a re-evaluation now")
    publish_ms: float = Field(1000.0, gt=0, description="Redis state publish timer")
    max_future_s: float = Field(300.0, ge=0, description="ticks dated more than this after "
                                "the wall clock are rejected as future_ts (0 = no limit)")
    stale_after_s: float = Field(5.0, gt=0, description="the terminal summary marks STALE "
                                 "when no tick has arrived for this long (wall clock)")
    gil_switch_ms: float = Field(
        0.5, gt=0, description="Python's thread switch interval in the service: the longest "
        "the event loop waits for the GIL while a publish cycle runs Python beside it "
        "(Python's default, 5 ms, is the whole latency budget of a tick)")


class RegimeSettings(Section):
    """Thresholds of the regime engine (REFERENCE.md, Regimes); times are event time."""

    window_s: float = Field(1800.0, gt=0, description="lookback for spot and IV changes")
    min_dwell_s: float = Field(60.0, ge=0, description="a label holds at least this long")
    exit_frac: float = Field(0.5, ge=0, le=1, description="hysteresis: exit below this "
                             "fraction of the entry threshold")
    gamma_dead_band_frac: float = Field(0.02, ge=0, description="of gross |GEX|")
    settled_live_same_frac: float = Field(0.02, ge=0, description="settled vs live books: "
                                          "'same' while today's prints move GEX by less "
                                          "than this fraction of the settled gross |GEX|")
    vanna_iv_change_pts: float = Field(1.0, gt=0, description="ATM IV change over the window")
    vanna_min_flow_usd: float = Field(5e8, ge=0, description="vanna hedge flow for that change")
    feedback_spot_pct: float = Field(-1.0, lt=0, description="spot change over the window")
    feedback_iv_pts: float = Field(1.0, gt=0, description="ATM IV rise over the window")
    exhaustion_percentile: float = Field(95.0, gt=0, lt=100,
                                         description="put premium (VIX-like or ATM IV) extreme")
    exhaustion_lookback_s: float = Field(20 * 86400.0, gt=0)
    exhaustion_min_history: int = Field(20, ge=1, description="samples before the sell-off "
                                        "needed to use the percentile")
    exhaustion_rollover_pts: float = Field(1.0, gt=0, description="IV off its sell-off peak")
    exhaustion_put_selling_contracts: float = Field(1000.0, ge=0, description="customer puts "
                                                    "net sold over the window (flow model)")
    exhaustion_gamma_recovery_frac: float = Field(0.25, ge=0, description="GEX back toward "
                                                  "zero from its sell-off trough")
    exhaustion_memory_s: float = Field(3 * 86400.0, gt=0, description="how long after a "
                                       "sell-off an exhaustion can be called")
    charm_sessions: int = Field(3, ge=0, description="sessions before a monthly expiration")
    charm_min_expiring_share: float = Field(0.15, ge=0, le=1, description="of gross |GEX| "
                                            "expiring at that expiration")
    sample_s: float = Field(10.0, gt=0, description="history sampling period")


class EmbeddedSettings(Section):
    chain: str | None = Field(None, description="real chain the embedded simulator starts "
                              "from (relative to the config file); None = the SPX chain "
                              "shipped in the package")
    rate_ticks_per_s: float = Field(20000.0, gt=0)
    seed: int = 7
    scenario: Literal["melt_up", "selloff"] | None = Field(
        None, description="a scripted demo path (monitor.sources.scenarios): shows regime "
        "changes within a minute; compresses the regime windows to seconds")


class SizingSettings(Section):
    multipliers: dict[str, float] = Field(default_factory=dict, description="size multiplier "
                                          "per rule of the sizing table (README, monitor "
                                          "size); rules not listed keep their default")


class AlertingSettings(Section):
    """Desk-chat alert delivery (the webhook URLs themselves are secrets: ``alerts``)."""

    queue_max: int = Field(1000, ge=1, description="deliveries waiting per target; more "
                           "are dropped (counted)")
    dedup_window_s: float = Field(300.0, ge=0, description="same (underlying, regime, to) "
                                  "as the last alert within this window is not re-sent")
    rate_limit_per_min: float = Field(6.0, gt=0, description="alerts per minute per "
                                      "(underlying, regime); more wait, in order")
    rate_limit_burst: int | None = Field(None, ge=1, description="token bucket size; None = "
                                         "rate_limit_per_min")
    max_retries: int = Field(5, ge=0)
    backoff_base_s: float = Field(0.5, ge=0)
    backoff_cap_s: float = Field(30.0, ge=0)
    retry_after_max_s: float = Field(300.0, ge=0, description="longest 429 Retry-After honoured")
    timeout_s: float = Field(5.0, gt=0, description="per HTTP attempt")
    close_timeout_s: float = Field(5.0, ge=0, description="at shutdown, time allowed to "
                                   "send what is queued")
    max_quote_staleness_s: float = Field(120.0, gt=0, description="data quality: newest "
                                         "option quote older than this (event time) holds "
                                         "alerts back")
    max_oi_age_days: float = Field(4.0, gt=0, description="data quality: open interest older "
                                   "than this holds alerts back")


class AlertSecrets(Section):
    slack_webhook_url: SecretStr | None = None
    teams_webhook_url: SecretStr | None = None
    generic_webhook_url: SecretStr | None = None


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


class _YamlWithoutSecrets(YamlConfigSettingsSource):
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


CONFIG_ENV = "DEALERFLOW_CONFIG"


def locate_config(path: str | os.PathLike | None = None) -> tuple[Path, str]:
    """(file, origin) of the configuration to read (module docstring)."""
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"config file not found: {p}")
        return p, "--config"
    env = os.environ.get(CONFIG_ENV)
    if env:
        p = Path(env)
        if not p.is_file():
            raise FileNotFoundError(f"config file not found: {p} (from ${CONFIG_ENV})")
        return p, f"${CONFIG_ENV}"
    local = Path("config.yaml")
    if local.is_file():
        return local, "./config.yaml"
    return packaged_config(), "packaged default"


class ConfigError(ValueError):
    """A configuration that cannot be used, in one line: the file (or environment
    variable), the key's path, and what is wrong (with a suggestion for a near-miss key)."""


def _model_of(annotation):
    """The Section class inside an annotation (``X``, ``X | None``, ``dict[str, X]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is dict and len(args) == 2:
        inner, _ = _model_of(args[1])
        return inner, True
    for a in args:
        inner, keyed = _model_of(a)
        if inner is not None:
            return inner, keyed
    return None, False


def _known_keys(loc: tuple) -> list[str]:
    """The keys allowed beside the last part of ``loc`` (for a did-you-mean)."""
    model, parts = Settings, list(loc[:-1])
    while parts:
        field = model.model_fields.get(str(parts.pop(0))) if model is not None else None
        if field is None:
            return []
        model, keyed = _model_of(field.annotation)
        if keyed and parts:
            parts.pop(0)  # the dict key (e.g. underlyings.SPX)
    return list(model.model_fields) if model is not None else []


ENV_PREFIX = "DEALERFLOW_"
#: DEALERFLOW_ variables that are not settings (read by the commands themselves)
OTHER_ENV = (CONFIG_ENV, DATA_ENV)


def _env_path_known(parts: list[str]) -> tuple[bool, list[str]]:
    """(whether ``parts``, a lower-case setting path, names a setting; the keys allowed
    where it first goes wrong). A dict of sections (``underlyings``) takes any key, then
    that section's keys; a dict of plain values (``pricing.rates``, ``bounds`` of an
    underlying) any key."""
    model = Settings
    rest = list(parts)
    while rest:
        key = rest.pop(0)
        if model is None:  # inside a dict of plain values
            return not rest, []
        fields = {name.lower(): f for name, f in model.model_fields.items()}
        field = fields.get(key)
        if field is None:
            return False, list(fields)
        inner, keyed = _model_of(field.annotation)
        if keyed and rest:
            rest.pop(0)  # the dict key: underlyings.SPX
            model = inner
        elif inner is not None:
            model = inner
        else:
            plain_dict = typing.get_origin(field.annotation) is dict
            return (not rest) or (plain_dict and len(rest) == 1), []
    return True, []


def check_environment(environ=None) -> None:
    """Every ``DEALERFLOW_*`` variable must name a setting (or be one of
    :data:`OTHER_ENV`): a misspelled one (``DEALERFLOW_PRICNG__RATE``) would otherwise be
    ignored in silence. :class:`ConfigError` naming it, with a did-you-mean. (An empty
    variable counts as unset: ``env_ignore_empty``.)"""
    environ = os.environ if environ is None else environ
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX) or name in OTHER_ENV or not environ[name]:
            continue
        parts = name[len(ENV_PREFIX):].lower().split("__")
        ok, allowed = _env_path_known(parts)
        if ok:
            continue
        bad = next(i for i in range(1, len(parts) + 1) if not _env_path_known(parts[:i])[0])
        near = difflib.get_close_matches(parts[bad - 1], allowed, n=1, cutoff=0.6)
        hint = ""
        if near:
            fixed = parts[:bad - 1] + [near[0]] + parts[bad:]
            hint = f" (did you mean {ENV_PREFIX}{'__'.join(fixed).upper()}?)"
        raise ConfigError(f"environment variable {name}: unknown setting "
                          f"{'.'.join(parts)}{hint}")


def describe_error(err: ValidationError, yaml_path: Path) -> str:
    """One line for the first error of ``err`` (and how many more there are)."""
    first = err.errors()[0]
    loc = tuple(str(x) for x in first["loc"])
    key = ".".join(loc)
    env = "DEALERFLOW_" + "__".join(loc).upper()
    where = f"environment variable {env}" if env in os.environ else str(yaml_path)
    if first["type"] == "extra_forbidden":
        what = "unknown key"
        near = difflib.get_close_matches(loc[-1], _known_keys(loc), n=1, cutoff=0.7)
        if near:
            what += f" (did you mean {'.'.join(loc[:-1] + (near[0],))}?)"
    else:
        got = first.get("input")
        what = first["msg"] + ("" if isinstance(got, dict) else f", got {got!r}")
    more = len(err.errors()) - 1
    return f"{where}: {key}: {what}" + (f" (and {more} more)" if more else "")


def load_settings(path: str | os.PathLike | None = None, **overrides) -> Settings:
    """Settings from the configuration :func:`locate_config` finds for ``path`` (module
    docstring), with ``overrides`` on top. :class:`ConfigError` (one line) when the file
    or the environment cannot be used."""
    yaml_path, origin = locate_config(path)
    check_environment()

    class _Settings(Settings):
        @classmethod
        def settings_customise_sources(cls, settings_cls, init_settings, env_settings,
                                       dotenv_settings, file_secret_settings
                                       ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings, env_settings,
                    _YamlWithoutSecrets(settings_cls, yaml_file=yaml_path))

    try:
        settings = _Settings(**overrides)
    except ValidationError as err:
        raise ConfigError(describe_error(err, yaml_path)) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{yaml_path}:{mark.line + 1}:{mark.column + 1}" if mark else str(yaml_path)
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{where}: not valid YAML: {problem}") from None
    settings._config_file = yaml_path
    settings._config_origin = origin
    return settings
