"""Exchange portfolio through ccxt: balances, positions and trades on any ccxt exchange.

Use read-only API keys: this connector only calls ``load_markets``, ``fetch_balance``,
``fetch_tickers``, ``fetch_my_trades`` and ``fetch_positions``. Values are in one quote
currency (USD by default; USD, USDT and USDC count 1:1 for a USD-like quote). Realised PnL
uses average cost per symbol, kept in the connector's state across runs, so a trade is
counted once however often the connector runs. Every HTTP call goes through the SSRF guard.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from marshmallow import ValidationError, fields, validate

from integrations.connectors import derived
from integrations.connectors.base import BaseSpec, Connector, EventRecord, Record, Sample
from integrations.connectors.safety import ResponseTooLarge, TargetRefused, guarded_session
from integrations.errors import FatalError, IntegrationError, RetriableError, classify_http

PAGE = 500
MAX_PAGES = 20


def _known_exchange(value: str) -> None:
    try:
        import ccxt
    except ImportError:
        return  # the type is disabled; enabled() says why
    if value not in ccxt.exchanges:
        raise ValidationError(f"ccxt has no exchange {value!r}")


class ExchangeSpec(BaseSpec):
    exchange = fields.Str(required=True, validate=_known_exchange)
    api_key = fields.Str(required=True, metadata={"secret": True, "description": "read-only key"})
    api_secret = fields.Str(required=True, metadata={"secret": True})
    password = fields.Str(load_default=None, allow_none=True, metadata={"secret": True})
    quote = fields.Str(load_default="USD", validate=validate.Regexp(r"^[A-Z0-9]{2,10}$"))
    quote_alternatives = fields.List(fields.Str(), load_default=lambda: ["USDT", "USDC"])
    symbols = fields.List(
        fields.Str(),
        load_default=None,
        allow_none=True,
        metadata={"description": "markets whose trades count (default: held assets / quote)"},
    )
    yield_window_days = fields.Int(load_default=30, validate=validate.Range(min=1, max=365))
    history_days = fields.Int(load_default=90, validate=validate.Range(min=1, max=3650))
    positions = fields.Bool(load_default=True, metadata={"description": "read open positions"})
    api_base_url = fields.Url(
        load_default=None,
        allow_none=True,
        schemes={"http", "https"},
        require_tld=False,
        metadata={"description": "replace the exchange's API host (a proxy, a test server)"},
    )
    rate_limit_ms = fields.Int(load_default=None, allow_none=True, validate=validate.Range(min=0))
    sandbox = fields.Bool(load_default=False)


def classify(exc: Exception, status: int | None = None) -> IntegrationError:
    """Map a ccxt error (or a guard error it carries) to fatal / retriable.

    When the exchange answered an HTTP error, the status decides (429/5xx retriable, other
    4xx fatal: ccxt files 400/403/404 under "not available"); API-level errors in a 200
    answer are judged by ccxt's class.
    """
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, TargetRefused | ResponseTooLarge):
            return cause
        cause = cause.__cause__ or cause.__context__
    import ccxt

    message = f"{type(exc).__name__}: {exc}"[:500]
    if status is not None and status >= 400 and not isinstance(exc, ccxt.AuthenticationError):
        return classify_http(status, message)
    if isinstance(exc, ccxt.RateLimitExceeded | ccxt.DDoSProtection):
        return RetriableError(message, status=429)
    if isinstance(exc, ccxt.AuthenticationError | ccxt.PermissionDenied | ccxt.AccountSuspended):
        return FatalError(message, status=401)
    if isinstance(exc, ccxt.NetworkError):
        return RetriableError(message)
    return FatalError(message)


def _rebase(urls: Any, base: str) -> Any:
    """Every URL in ccxt's ``urls['api']`` with scheme and host replaced by ``base``'s."""
    if isinstance(urls, dict):
        return {k: _rebase(v, base) for k, v in urls.items()}
    if isinstance(urls, str) and urls.startswith("http"):
        new, old = urlsplit(base), urlsplit(urls)
        return urlunsplit((new.scheme, new.netloc, new.path.rstrip("/") + old.path, old.query, ""))
    return urls


class ExchangeConnector(Connector):
    type = "exchange"
    name = "Exchange portfolio (ccxt)"
    description = "Portfolio value, realised PnL and yield from any exchange ccxt supports"
    spec = ExchangeSpec
    requires = ("ccxt",)
    primary_key = ("metric", "subject", "measured_at")

    def __init__(self, settings, context=None) -> None:
        super().__init__(settings, context)
        self.warnings: Counter = Counter()

    def exchange(self):
        import ccxt

        s = self.settings
        session = guarded_session(
            allow_private=s.get("allow_private_network", False),
            max_bytes=s.get("max_response_bytes", 2 * 1024 * 1024),
            timeout=s.get("timeout_s", 10.0),
            ca_bundle=self.context.ca_bundle,
        )
        config: dict[str, Any] = {
            "apiKey": s["api_key"],
            "secret": s["api_secret"],
            "enableRateLimit": True,
            "timeout": int(s.get("timeout_s", 10.0) * 1000),
            "session": session,
        }
        if s.get("password"):
            config["password"] = s["password"]
        self._adapter = session.get_adapter("https://")
        ex = getattr(ccxt, s["exchange"])(config)
        if s.get("rate_limit_ms") is not None:
            ex.rateLimit = s["rate_limit_ms"]
        if s.get("sandbox"):
            ex.set_sandbox_mode(True)
        if s.get("api_base_url"):
            ex.urls["api"] = _rebase(ex.urls["api"], s["api_base_url"])
        return ex

    def _call(self, func, *args, **kwargs):
        import ccxt

        adapter = getattr(self, "_adapter", None)
        if adapter is not None:
            adapter.last_status = None
        try:
            return func(*args, **kwargs)
        except ccxt.BaseError as exc:
            raise classify(exc, adapter.last_status if adapter else None) from exc

    def check(self) -> dict[str, Any]:
        ex = self.exchange()
        self._call(ex.load_markets)
        balance = self._call(ex.fetch_balance)
        held = sorted(c for c, v in (balance.get("total") or {}).items() if v)
        return {"exchange": ex.id, "markets": len(ex.markets), "assets": held}

    def read(self, since: datetime | None) -> Iterator[Record]:
        ex = self.exchange()
        s = self.settings
        quote = s["quote"]
        now = self.now
        subject = ex.id
        self._call(ex.load_markets)
        balance = self._call(ex.fetch_balance)
        totals = {c: float(v) for c, v in (balance.get("total") or {}).items() if v}
        prices = self._prices(ex, set(totals))
        value = 0.0
        for currency, amount in sorted(totals.items()):
            price = prices.get(currency)
            if price is None:
                self.warnings["unpriced_asset"] += 1
                continue
            value += amount * price
            metric = derived.value_metric("asset_value", quote)
            yield Sample(metric, amount * price, now, f"{subject}:{currency}")
        yield Sample(derived.value_metric("portfolio_value", quote), value, now, subject)

        run_pnl, trades = self._trades(ex, totals, prices)
        for trade in trades:
            yield EventRecord(
                "exchange_trade",
                datetime.fromtimestamp(trade["timestamp"] / 1000, UTC),
                f"{ex.id}:{trade['id']}",
                {k: trade.get(k) for k in ("symbol", "side", "amount", "price", "cost")},
            )
        yield Sample(derived.value_metric("realized_pnl", quote), run_pnl, now, subject)
        window = s["yield_window_days"]
        cutoff = (now - timedelta(days=window)).date().isoformat()
        daily = {d: v for d, v in self.state.get("daily_pnl", {}).items() if d > cutoff}
        self.state["daily_pnl"] = daily
        pnl_window = sum(daily.values())
        metric = derived.value_metric(f"realized_pnl_{window}d", quote)
        yield Sample(metric, pnl_window, now, subject)
        annual = derived.yield_pct(pnl_window, value, window)
        if annual is not None:
            yield Sample("yield_pct", annual, now, subject)
        if s.get("positions") and ex.has.get("fetchPositions"):
            yield from self._positions(ex, prices, now, subject)

    def _usd_like(self, currency: str) -> bool:
        return currency.upper() in derived.USD_LIKE and self.settings["quote"] in derived.USD_LIKE

    def _prices(self, ex, currencies: set[str]) -> dict[str, float]:
        quote = self.settings["quote"]
        quotes = [quote, *(self.settings.get("quote_alternatives") or [])]
        prices: dict[str, float] = {}
        wanted: dict[str, str] = {}
        for currency in currencies:
            if currency == quote or self._usd_like(currency):
                prices[currency] = 1.0
                continue
            for q in quotes:
                symbol = f"{currency}/{q}"
                if symbol in ex.markets:
                    wanted[symbol] = currency
                    break
        if not wanted:
            return prices
        if ex.has.get("fetchTickers"):
            tickers = self._call(ex.fetch_tickers, sorted(wanted))
        else:
            tickers = {symbol: self._call(ex.fetch_ticker, symbol) for symbol in sorted(wanted)}
        for symbol, currency in wanted.items():
            ticker = tickers.get(symbol) or {}
            price = ticker.get("last") or ticker.get("close")
            if price is None and ticker.get("bid") and ticker.get("ask"):
                price = (ticker["bid"] + ticker["ask"]) / 2
            if price:
                prices[currency] = float(price)
        return prices

    def _symbols(self, ex, totals: dict[str, float]) -> list[str]:
        if self.settings.get("symbols"):
            return [s for s in self.settings["symbols"] if s in ex.markets]
        quotes = [self.settings["quote"], *(self.settings.get("quote_alternatives") or [])]
        held = set(totals) | {s.split("/")[0] for s in self.state.get("positions", {})}
        return sorted(
            f"{c}/{q}" for c in held for q in quotes if f"{c}/{q}" in ex.markets and c != q
        )

    def _trades(self, ex, totals, prices) -> tuple[float, list[dict[str, Any]]]:
        """New trades since the stored mark, applied to average-cost positions."""
        start = self.state.get("trades_since_ms")
        if start is None:
            first = self.now - timedelta(days=self.settings["history_days"])
            start = int(first.timestamp() * 1000)
        seen_at_mark = set(self.state.get("trade_ids_at_mark", []))
        positions = self.state.setdefault("positions", {})
        daily = self.state.setdefault("daily_pnl", {})
        run_pnl = 0.0
        new: list[dict[str, Any]] = []
        for symbol in self._symbols(ex, totals):
            since = start
            for _ in range(MAX_PAGES):
                page = self._call(ex.fetch_my_trades, symbol, since, PAGE)
                fresh = [
                    t
                    for t in page
                    if t.get("timestamp") is not None
                    and (
                        t["timestamp"] > start
                        or (t["timestamp"] == start and str(t["id"]) not in seen_at_mark)
                    )
                ]
                new.extend(fresh)
                if len(page) < PAGE:
                    break
                since = max(t["timestamp"] for t in page)
        new.sort(key=lambda t: (t["timestamp"], str(t["id"])))
        for trade in new:
            pnl = self._apply(trade, positions, prices)
            run_pnl += pnl
            day = datetime.fromtimestamp(trade["timestamp"] / 1000, UTC).date().isoformat()
            daily[day] = daily.get(day, 0.0) + pnl
        if new:
            mark = new[-1]["timestamp"]
            self.state["trades_since_ms"] = mark
            self.state["trade_ids_at_mark"] = [str(t["id"]) for t in new if t["timestamp"] == mark]
        else:
            self.state["trades_since_ms"] = start
        return run_pnl, new

    def _apply(self, trade: dict[str, Any], positions: dict[str, Any], prices) -> float:
        """Average cost: buys add to cost; sells realise (price - average cost) * amount - fee."""
        symbol = trade["symbol"]
        base, _, trade_quote = symbol.partition("/")
        trade_quote = trade_quote.split(":")[0]
        same = trade_quote == self.settings["quote"] or self._usd_like(trade_quote)
        rate = 1.0 if same else prices.get(trade_quote)
        if rate is None:
            self.warnings["unconvertible_trade"] += 1
            return 0.0
        amount, price = float(trade["amount"] or 0), float(trade["price"] or 0)
        fee = trade.get("fee") or {}
        fee_cost = float(fee.get("cost") or 0)
        if fee.get("currency") == base:
            fee_cost *= price
        elif fee.get("currency") and fee.get("currency") != trade_quote:
            fee_cost = 0.0
        position = positions.setdefault(symbol, {"qty": 0.0, "cost": 0.0})
        if trade["side"] == "buy":
            position["qty"] += amount
            position["cost"] += amount * price + fee_cost
            return 0.0
        held = position["qty"]
        matched = min(amount, held)
        if amount > held + 1e-12:
            self.warnings["unknown_cost_basis"] += 1
        average = position["cost"] / held if held > 0 else price
        pnl = (price - average) * matched - fee_cost
        position["qty"] = held - matched
        position["cost"] = max(0.0, position["cost"] - average * matched)
        return pnl * rate

    def _positions(self, ex, prices, now, subject) -> Iterator[Sample]:
        quote = self.settings["quote"]
        positions = self._call(ex.fetch_positions) or []
        open_ = [p for p in positions if (p.get("contracts") or p.get("contractSize") or 0)]
        yield Sample("open_positions", float(len(open_)), now, subject)
        unrealized = sum((float(p.get("unrealizedPnl") or 0) for p in open_), 0.0)
        notional = sum((abs(float(p.get("notional") or 0)) for p in open_), 0.0)
        yield Sample(derived.value_metric("unrealized_pnl", quote), unrealized, now, subject)
        yield Sample(derived.value_metric("positions_notional", quote), notional, now, subject)
