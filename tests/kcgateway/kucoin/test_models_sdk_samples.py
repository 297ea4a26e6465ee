"""Every parser against the response samples documented in the pinned universal SDK (1.3.2).

The samples are read from the installed package at test time (they are KuCoin's documented
example responses, embedded in the SDK's own generated tests); nothing is copied into this repo.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path

import pytest

from kcgateway.kucoin import models as m

SAMPLES: dict[str, Callable[[object], object]] = {
    "account|account|test_get_apikey_info_resp_model": m.parse_api_key_info,
    "account|account|test_get_cross_margin_account_resp_model": m.parse_cross_margin_account,
    "account|account|test_get_futures_account_resp_model": m.parse_account_overview,
    "account|account|test_get_spot_account_detail_resp_model": m.parse_account_balance,
    "account|account|test_get_spot_account_list_resp_model": m.parse_accounts,
    "account|account|test_get_spot_account_type_resp_model": m.parse_bool,
    "account|transfer|test_inner_transfer_resp_model": m.parse_transfer,
    "broker|ndbroker|test_add_sub_account_api_resp_model": m.parse_created_sub_account_key,
    "broker|ndbroker|test_add_sub_account_resp_model": m.parse_sub_account,
    "broker|ndbroker|test_delete_sub_account_api_resp_model": m.parse_bool,
    "broker|ndbroker|test_get_broker_info_resp_model": m.parse_broker_info,
    "broker|ndbroker|test_get_rebase_resp_model": m.parse_download_link,
    "broker|apibroker|test_get_rebase_resp_model": m.parse_download_link,
    "broker|ndbroker|test_get_sub_account_api_resp_model": m.parse_sub_account_keys,
    "broker|ndbroker|test_get_sub_account_resp_model": m.parse_sub_accounts,
    "broker|ndbroker|test_get_transfer_history_resp_model": m.parse_transfer_detail,
    "broker|ndbroker|test_modify_sub_account_api_resp_model": m.parse_sub_account_key,
    "broker|ndbroker|test_transfer_resp_model": m.parse_transfer,
    "futures|market|test_get_all_symbols_resp_model": m.parse_contracts,
    "futures|market|test_get_full_order_book_resp_model": m.parse_futures_order_book,
    "futures|market|test_get_part_order_book_resp_model": m.parse_futures_order_book,
    "futures|market|test_get_klines_resp_model": m.parse_futures_candles,
    "futures|market|test_get_private_token_resp_model": m.parse_bullet,
    "futures|market|test_get_public_token_resp_model": m.parse_bullet,
    "futures|market|test_get_server_time_resp_model": m.parse_server_time,
    "futures|market|test_get_symbol_resp_model": m.parse_contract,
    "futures|market|test_get_ticker_resp_model": m.parse_futures_ticker,
    "futures|order|test_add_order_resp_model": m.parse_order_placed,
    "futures|order|test_add_order_test_resp_model": m.parse_order_placed,
    "futures|order|test_add_tpsl_order_resp_model": m.parse_order_placed,
    "futures|order|test_cancel_all_orders_v3_resp_model": m.parse_cancel,
    "futures|order|test_cancel_all_stop_orders_resp_model": m.parse_cancel,
    "futures|order|test_cancel_order_by_client_oid_resp_model": m.parse_cancel,
    "futures|order|test_cancel_order_by_id_resp_model": m.parse_cancel,
    "futures|order|test_get_order_by_client_oid_resp_model": m.parse_futures_order,
    "futures|order|test_get_order_by_order_id_resp_model": m.parse_futures_order,
    "futures|order|test_get_order_list_resp_model": m.parse_futures_orders,
    "futures|order|test_get_stop_order_list_resp_model": m.parse_futures_orders,
    "futures|order|test_get_trade_history_resp_model": m.parse_futures_fills,
    "futures|positions|test_get_cross_margin_leverage_resp_model": m.parse_cross_leverage,
    "futures|positions|test_get_margin_mode_resp_model": m.parse_margin_mode,
    "futures|positions|test_get_position_details_resp_model": m.parse_position,
    "futures|positions|test_get_position_list_resp_model": m.parse_positions,
    "futures|positions|test_modify_margin_leverage_resp_model": m.parse_bool,
    "futures|positions|test_switch_margin_mode_resp_model": m.parse_margin_mode,
    "margin|debit|test_borrow_resp_model": m.parse_borrow,
    "margin|debit|test_repay_resp_model": m.parse_borrow,
    "margin|order|test_add_order_resp_model": m.parse_order_placed,
    "margin|order|test_cancel_order_by_order_id_resp_model": m.parse_cancel,
    "margin|order|test_cancel_order_by_client_oid_resp_model": m.parse_cancel,
    "margin|order|test_get_order_by_order_id_resp_model": m.parse_hf_order,
    "spot|market|test_get_all_symbols_resp_model": m.parse_symbols,
    "spot|market|test_get_symbol_resp_model": m.parse_symbol,
    "spot|market|test_get_all_currencies_resp_model": m.parse_currencies,
    "spot|market|test_get_currency_resp_model": m.parse_currency,
    "spot|market|test_get_ticker_resp_model": m.parse_ticker,
    "spot|market|test_get_all_tickers_resp_model": m.parse_all_tickers,
    "spot|market|test_get24hr_stats_resp_model": m.parse_stats,
    "spot|market|test_get_part_order_book_resp_model": m.parse_order_book,
    "spot|market|test_get_full_order_book_resp_model": m.parse_order_book,
    "spot|market|test_get_klines_resp_model": m.parse_spot_candles,
    "spot|market|test_get_trade_history_resp_model": m.parse_market_trades,
    "spot|market|test_get_server_time_resp_model": m.parse_server_time,
    "spot|market|test_get_service_status_resp_model": m.parse_server_status,
    "spot|market|test_get_public_token_resp_model": m.parse_bullet,
    "spot|market|test_get_private_token_resp_model": m.parse_bullet,
    "spot|order|test_add_order_resp_model": m.parse_order_placed,
    "spot|order|test_add_order_sync_resp_model": m.parse_order_placed_sync,
    "spot|order|test_add_order_test_resp_model": m.parse_order_placed,
    "spot|order|test_batch_add_orders_resp_model": m.parse_batch_placed,
    "spot|order|test_add_order_old_resp_model": m.parse_order_placed,
    "spot|order|test_add_stop_order_resp_model": m.parse_order_placed,
    "spot|order|test_cancel_order_by_order_id_resp_model": m.parse_cancel,
    "spot|order|test_cancel_order_by_client_oid_resp_model": m.parse_cancel,
    "spot|order|test_cancel_partial_order_resp_model": m.parse_cancel,
    "spot|order|test_cancel_all_orders_by_symbol_resp_model": m.parse_cancel_symbol,
    "spot|order|test_cancel_all_orders_resp_model": m.parse_cancel_all,
    "spot|order|test_cancel_order_by_order_id_old_resp_model": m.parse_cancel,
    "spot|order|test_cancel_order_by_client_oid_old_resp_model": m.parse_cancel,
    "spot|order|test_batch_cancel_order_old_resp_model": m.parse_cancel,
    "spot|order|test_get_order_by_order_id_resp_model": m.parse_hf_order,
    "spot|order|test_get_order_by_client_oid_resp_model": m.parse_hf_order,
    "spot|order|test_get_open_orders_resp_model": m.parse_hf_orders,
    "spot|order|test_get_open_orders_by_page_resp_model": m.parse_hf_orders_page,
    "spot|order|test_get_closed_orders_resp_model": m.parse_hf_done_orders,
    "spot|order|test_get_trade_history_resp_model": m.parse_hf_fills,
    "spot|order|test_get_orders_list_old_resp_model": m.parse_classic_orders,
    "spot|order|test_get_order_by_order_id_old_resp_model": m.parse_classic_order,
    "spot|order|test_get_order_by_client_oid_old_resp_model": m.parse_classic_order,
    "spot|order|test_get_trade_history_old_resp_model": m.parse_classic_fills,
    "spot|order|test_get_stop_orders_list_resp_model": m.parse_stop_orders,
    "spot|order|test_get_stop_order_by_order_id_resp_model": m.parse_stop_order,
    "spot|order|test_cancel_stop_order_by_order_id_resp_model": m.parse_cancel,
    "spot|order|test_cancel_stop_order_by_client_oid_resp_model": m.parse_cancel,
    "spot|order|test_batch_cancel_stop_order_resp_model": m.parse_cancel,
}


def _sdk_samples() -> dict[str, str]:
    spec = find_spec("kucoin_universal_sdk")
    if spec is None or spec.origin is None:  # pragma: no cover - a dev dependency
        pytest.skip("kucoin-universal-sdk is not installed (pip install -e '.[dev]')")
    root = Path(spec.origin).parent / "generate"
    samples: dict[str, str] = {}
    for path in root.glob("*/*/api_*_test.py"):
        domain, group = path.relative_to(root).parts[:2]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and node.name.endswith("_resp_model"):
                for stmt in node.body:
                    if not isinstance(stmt, ast.Assign):
                        continue
                    target, value = stmt.targets[0], stmt.value
                    if isinstance(target, ast.Name) and target.id == "data":
                        assert isinstance(value, ast.Constant)
                        samples[f"{domain}|{group}|{node.name}"] = str(value.value)
    return samples


@pytest.fixture(scope="module")
def sdk_samples() -> dict[str, str]:
    return _sdk_samples()


@pytest.mark.parametrize("key", sorted(SAMPLES))
def test_documented_sample_parses(key: str, sdk_samples: dict[str, str]) -> None:
    assert key in sdk_samples, f"sample {key} not found in the SDK"
    data = m.parse_envelope(sdk_samples[key].encode(), http_status=200)
    result = SAMPLES[key](data)
    assert result is not None
