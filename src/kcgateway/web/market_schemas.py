"""Request and response models of the margin and futures routes (and spot fills / cancel-all).

Money and sizes are decimal strings ("0.001", never an exponent), so nothing passes through
float; the models are the OpenAPI description of every answer.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kcgateway.gateway.orders.markets import FUTURES, MARGIN, MarketTerms
from kcgateway.gateway.orders.model import IntentView, OrderRequest
from kcgateway.gateway.reasons import Reason
from kcgateway.kucoin import models as m
from kcgateway.store.types import OrderState
from kcgateway.web.decimals import DecimalString

_STRICT = ConfigDict(extra="forbid", populate_by_name=True)
_OUT = ConfigDict(populate_by_name=True)
DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
Dec = Annotated[str, Field(pattern=DECIMAL_PATTERN, description="decimal number as a string")]
MAX_LEVERAGE = 200
Side = Literal["buy", "sell"]
OrderType = Literal["limit", "market"]


def dec(value: Decimal) -> str:
    """A decimal as a plain string (no exponent)."""
    return format(value, "f")


def opt_dec(value: Decimal | None) -> str | None:
    """:func:`dec`, passing None through."""
    return None if value is None else dec(value)


class _OrderCommon(BaseModel):
    model_config = _STRICT

    account: str = Field(min_length=1, max_length=200, description="account id or name")
    symbol: str = Field(min_length=3, max_length=40)
    side: Side
    type: OrderType = "limit"
    price: DecimalString | None = None
    client_oid: str | None = Field(default=None, alias="clientOid", max_length=40)


class MarginOrderBody(_OrderCommon):
    """``POST /v1/margin/orders``: a cross or isolated margin order (HF margin endpoints)."""

    size: DecimalString | None = None
    funds: DecimalString | None = None
    time_in_force: Literal["GTC", "GTT", "IOC", "FOK"] | None = Field(
        default=None, alias="timeInForce"
    )
    margin_mode: Literal["cross", "isolated"] = Field(default="cross", alias="marginMode")
    auto_borrow: bool = Field(default=False, alias="autoBorrow")
    auto_repay: bool = Field(default=False, alias="autoRepay")

    def to_request(self, client_oid: str | None = None) -> OrderRequest:
        """The use-case request (``client_oid`` overrides when given)."""
        return OrderRequest(
            account=self.account,
            symbol=self.symbol,
            side=self.side,
            order_type=self.type,
            price=self.price,
            size=self.size,
            funds=self.funds,
            client_oid=client_oid or self.client_oid,
            time_in_force=self.time_in_force,
            terms=MarketTerms(
                MARGIN,
                margin_mode=self.margin_mode,
                auto_borrow=self.auto_borrow,
                auto_repay=self.auto_repay,
            ),
        )


class FuturesOrderBody(_OrderCommon):
    """``POST /v1/futures/orders``: ``size`` is a whole number of lots of the contract."""

    size: int = Field(ge=1, le=1_000_000, strict=True, description="lots (a JSON integer)")
    time_in_force: Literal["GTC", "IOC"] | None = Field(default=None, alias="timeInForce")
    leverage: DecimalString | None = Field(default=None, description="greater than 0, at most 200")
    margin_mode: Literal["ISOLATED", "CROSS"] | None = Field(default=None, alias="marginMode")
    reduce_only: bool = Field(default=False, alias="reduceOnly")
    close_order: bool = Field(default=False, alias="closeOrder")

    @field_validator("leverage")
    @classmethod
    def _leverage_range(cls, value: Decimal | None) -> Decimal | None:
        if value is not None and not 0 < value <= MAX_LEVERAGE:
            raise ValueError(f"must be greater than 0 and at most {MAX_LEVERAGE}")
        return value

    def to_request(self, client_oid: str | None = None) -> OrderRequest:
        """The use-case request (``client_oid`` overrides when given)."""
        return OrderRequest(
            account=self.account,
            symbol=self.symbol,
            side=self.side,
            order_type=self.type,
            price=self.price,
            size=Decimal(self.size),
            client_oid=client_oid or self.client_oid,
            time_in_force=self.time_in_force,
            terms=MarketTerms(
                FUTURES,
                margin_mode=self.margin_mode,
                leverage=self.leverage,
                reduce_only=self.reduce_only,
                close_order=self.close_order,
            ),
        )


class ReasonOut(BaseModel):
    """Why an order was refused (``rejected``, ``not_placed``): kept with the order."""

    model_config = _OUT

    code: str = Field(
        description="stable code: invalid_request, exchange_rejected, exchange_auth_failed, "
        "account_unusable, account_not_connected, not_placed"
    )
    message: str = Field(description="what went wrong")
    hint: str = Field(description="what to do")
    field: str | None = Field(default=None, description="the offending field, when one is")
    exchange_code: str | None = Field(
        default=None, serialization_alias="exchangeCode", description="KuCoin's code"
    )
    exchange_message: str | None = Field(
        default=None, serialization_alias="exchangeMessage", description="KuCoin's message"
    )

    @classmethod
    def of(cls, r: Reason | None) -> ReasonOut | None:
        """From the use case's reason (None passes through)."""
        if r is None:
            return None
        return cls(
            code=r.code, message=r.message, hint=r.hint, field=r.field,
            exchange_code=r.exchange_code, exchange_message=r.exchange_message,
        )  # fmt: skip


class OrderOut(BaseModel):
    """An order intent of any market, with that market's terms."""

    model_config = _OUT

    id: str
    account: str
    market: Literal["spot", "margin", "futures"]
    client_oid: str = Field(serialization_alias="clientOid")
    symbol: str
    side: str
    type: str
    price: Dec | None
    size: Dec | None = Field(description="base units; futures: lots")
    funds: Dec | None
    state: OrderState
    exchange_order_id: str | None = Field(serialization_alias="exchangeOrderId")
    margin_mode: str | None = Field(serialization_alias="marginMode")
    leverage: Dec | None
    reduce_only: bool = Field(serialization_alias="reduceOnly")
    close_order: bool = Field(serialization_alias="closeOrder")
    auto_borrow: bool = Field(serialization_alias="autoBorrow")
    auto_repay: bool = Field(serialization_alias="autoRepay")
    created_at: datetime = Field(serialization_alias="createdAt")
    updated_at: datetime = Field(serialization_alias="updatedAt")
    attention: str | None = Field(
        default=None,
        description="why the operator must look at this order (e.g. its account's credential "
        "cannot be decrypted); null when nothing is needed",
    )
    reason: ReasonOut | None = Field(
        default=None,
        description="why the order was refused (state rejected or not_placed); null otherwise",
    )

    @classmethod
    def of(cls, v: IntentView) -> OrderOut:
        """From the use case's view."""
        t = v.terms
        return cls(
            id=v.id,
            account=v.account_id,
            market=t.market,  # type: ignore[arg-type]  # stored values are the three markets
            client_oid=v.client_oid,
            symbol=v.symbol,
            side=v.side,
            type=v.order_type,
            price=opt_dec(v.price),
            size=opt_dec(v.size),
            funds=opt_dec(v.funds),
            state=v.state,
            exchange_order_id=v.exchange_order_id,
            margin_mode=t.margin_mode,
            leverage=opt_dec(t.leverage),
            reduce_only=t.reduce_only,
            close_order=t.close_order,
            auto_borrow=t.auto_borrow,
            auto_repay=t.auto_repay,
            created_at=v.created_at,
            updated_at=v.updated_at,
            attention=v.attention,
            reason=ReasonOut.of(v.reason),
        )


def order_json(v: IntentView) -> dict[str, object]:
    """:class:`OrderOut` as JSON-ready data (for the stored, replayable POST replies)."""
    return OrderOut.of(v).model_dump(mode="json", by_alias=True)


class FillOut(BaseModel):
    """One spot or margin fill."""

    model_config = _OUT

    symbol: str
    trade_id: str = Field(serialization_alias="tradeId")
    order_id: str = Field(serialization_alias="orderId")
    side: str
    liquidity: str
    price: Dec
    size: Dec
    funds: Dec
    fee: Dec
    fee_currency: str = Field(serialization_alias="feeCurrency")
    created_at: int = Field(
        serialization_alias="createdAt", description="milliseconds since the epoch"
    )

    @classmethod
    def of(cls, f: m.Fill) -> FillOut:
        """From the exchange model."""
        return cls(
            symbol=f.symbol,
            trade_id=str(f.trade_id),
            order_id=f.order_id,
            side=f.side,
            liquidity=f.liquidity,
            price=dec(f.price),
            size=dec(f.size),
            funds=dec(f.funds),
            fee=dec(f.fee),
            fee_currency=f.fee_currency,
            created_at=f.created_at,
        )


class FuturesFillOut(BaseModel):
    """One futures fill (``size`` in lots)."""

    model_config = _OUT

    symbol: str
    trade_id: str = Field(serialization_alias="tradeId")
    order_id: str = Field(serialization_alias="orderId")
    side: str
    liquidity: str
    price: Dec
    size: Dec
    value: Dec | None
    fee: Dec
    fee_currency: str | None = Field(serialization_alias="feeCurrency")
    margin_mode: str | None = Field(serialization_alias="marginMode")
    created_at: int = Field(
        serialization_alias="createdAt", description="milliseconds since the epoch"
    )

    @classmethod
    def of(cls, f: m.FuturesFill) -> FuturesFillOut:
        """From the exchange model."""
        return cls(
            symbol=f.symbol,
            trade_id=f.trade_id,
            order_id=f.order_id,
            side=f.side,
            liquidity=f.liquidity,
            price=dec(f.price),
            size=dec(f.size),
            value=opt_dec(f.value),
            fee=dec(f.fee),
            fee_currency=f.fee_currency,
            margin_mode=f.margin_mode,
            created_at=f.created_at,
        )


class PositionOut(BaseModel):
    """One futures position (``currentQty`` in lots, negative when short)."""

    model_config = _OUT

    symbol: str
    is_open: bool = Field(serialization_alias="isOpen")
    current_qty: Dec = Field(serialization_alias="currentQty")
    avg_entry_price: Dec | None = Field(serialization_alias="avgEntryPrice")
    mark_price: Dec | None = Field(serialization_alias="markPrice")
    unrealised_pnl: Dec | None = Field(serialization_alias="unrealisedPnl")
    realised_pnl: Dec | None = Field(serialization_alias="realisedPnl")
    liquidation_price: Dec | None = Field(serialization_alias="liquidationPrice")
    leverage: Dec | None
    margin_mode: str | None = Field(serialization_alias="marginMode")
    settle_currency: str | None = Field(serialization_alias="settleCurrency")

    @classmethod
    def of(cls, p: m.Position) -> PositionOut:
        """From the exchange model."""
        return cls(
            symbol=p.symbol,
            is_open=p.is_open,
            current_qty=dec(p.current_qty),
            avg_entry_price=opt_dec(p.avg_entry_price),
            mark_price=opt_dec(p.mark_price),
            unrealised_pnl=opt_dec(p.unrealised_pnl),
            realised_pnl=opt_dec(p.realised_pnl),
            liquidation_price=opt_dec(p.liquidation_price),
            leverage=opt_dec(p.leverage),
            margin_mode=p.margin_mode,
            settle_currency=p.settle_currency,
        )


class FuturesBalanceOut(BaseModel):
    """The futures account in one settlement currency."""

    model_config = _OUT

    currency: str
    account_equity: Dec = Field(serialization_alias="accountEquity")
    unrealised_pnl: Dec = Field(serialization_alias="unrealisedPnl")
    margin_balance: Dec = Field(serialization_alias="marginBalance")
    position_margin: Dec = Field(serialization_alias="positionMargin")
    order_margin: Dec = Field(serialization_alias="orderMargin")
    frozen_funds: Dec = Field(serialization_alias="frozenFunds")
    available_balance: Dec = Field(serialization_alias="availableBalance")

    @classmethod
    def of(cls, a: m.AccountOverview) -> FuturesBalanceOut:
        """From the exchange model."""
        return cls(
            currency=a.currency,
            account_equity=dec(a.account_equity),
            unrealised_pnl=dec(a.unrealised_pnl),
            margin_balance=dec(a.margin_balance),
            position_margin=dec(a.position_margin),
            order_margin=dec(a.order_margin),
            frozen_funds=dec(a.frozen_funds),
            available_balance=dec(a.available_balance),
        )


class MarginBalanceOut(BaseModel):
    """One currency of the cross-margin account."""

    model_config = _OUT

    currency: str
    total: Dec
    available: Dec
    hold: Dec
    liability: Dec

    @classmethod
    def of(cls, a: m.MarginAsset) -> MarginBalanceOut:
        """From the exchange model."""
        return cls(
            currency=a.currency,
            total=dec(a.total),
            available=dec(a.available),
            hold=dec(a.hold),
            liability=dec(a.liability),
        )


class ContractOut(BaseModel):
    """One futures contract and its trading rules."""

    model_config = _OUT

    symbol: str
    base: str
    quote: str
    settle: str
    lot_size: Dec = Field(serialization_alias="lotSize")
    tick_size: Dec = Field(serialization_alias="tickSize")
    multiplier: Dec
    max_order_qty: Dec | None = Field(serialization_alias="maxOrderQty")
    max_leverage: int | None = Field(serialization_alias="maxLeverage")
    status: str

    @classmethod
    def of(cls, c: m.FuturesContract) -> ContractOut:
        """From the exchange model."""
        return cls(
            symbol=c.symbol,
            base=c.base_currency,
            quote=c.quote_currency,
            settle=c.settle_currency,
            lot_size=dec(c.lot_size),
            tick_size=dec(c.tick_size),
            multiplier=dec(c.multiplier),
            max_order_qty=opt_dec(c.max_order_qty),
            max_leverage=c.max_leverage,
            status=c.status,
        )
