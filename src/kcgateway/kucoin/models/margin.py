"""Margin: the cross-margin account and borrow/repay results.

Margin HF orders use the spot :class:`~kcgateway.kucoin.models.spot.HfOrder` shape and the same
place/cancel responses.
"""

from __future__ import annotations

from decimal import Decimal

from kcgateway.kucoin.models._base import Model, parse_as


class MarginAsset(Model, frozen=True, kw_only=True):
    """One currency of a cross-margin account.

    ``{"currency":"USDT","total":"100","available":"90","hold":"10","liability":"5",
    "liabilityPrincipal":"5","liabilityInterest":"0.001","maxBorrowSize":"400",
    "borrowEnabled":true,"transferInEnabled":true}``
    """

    currency: str
    total: Decimal
    available: Decimal
    hold: Decimal
    liability: Decimal
    liability_principal: Decimal | None = None
    liability_interest: Decimal | None = None
    max_borrow_size: Decimal | None = None
    borrow_enabled: bool = False
    transfer_in_enabled: bool = False


class CrossMarginAccount(Model, frozen=True, kw_only=True):
    """``GET /api/v3/margin/accounts``.

    ``{"totalAssetOfQuoteCurrency":"100","totalLiabilityOfQuoteCurrency":"5",
    "debtRatio":"0.05","status":"EFFECTIVE","accounts":[MarginAsset...]}``
    """

    total_asset_of_quote_currency: Decimal
    total_liability_of_quote_currency: Decimal
    debt_ratio: Decimal
    status: str
    accounts: list[MarginAsset]


class BorrowResult(Model, frozen=True, kw_only=True):
    """``POST /api/v3/margin/borrow`` and ``/repay``.

    ``{"orderNo":"bor-0001","actualSize":"10"}`` (repay adds ``timestamp``).
    """

    order_no: str
    actual_size: Decimal
    timestamp: int | None = None


def parse_cross_margin_account(data: object) -> CrossMarginAccount:
    """``GET /api/v3/margin/accounts``."""
    return parse_as(CrossMarginAccount, data)


def parse_borrow(data: object) -> BorrowResult:
    """``POST /api/v3/margin/borrow`` or ``/api/v3/margin/repay``."""
    return parse_as(BorrowResult, data)
