"""The sections of ``config.yaml``, one settings model each, with their defaults (the one
place they live: ``tests/test_config_defaults.py`` holds ``config.yaml`` to them)."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    model_validator,
)

from monitor.core.positions import MODELS

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
