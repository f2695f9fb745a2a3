"""The simulator's pure parts: meter model, statistics, command table, CLI parsing, report. No network."""

from __future__ import annotations

import argparse
import io
import json
import random
from pathlib import Path
from typing import Any

import pytest
from ocpp.v16.enums import Action, Measurand, RegistrationStatus

from voltway.simulator import command
from voltway.simulator.charger import ChargerSettings, SimulatedCharger
from voltway.simulator.commands import COMMAND_HANDLERS
from voltway.simulator.meter import ConnectorMeter, parse_measurands
from voltway.simulator.report import ProgressBar, format_summary, progress_line
from voltway.simulator.runner import SimulationConfig, basic_auth_header, charger_url
from voltway.simulator.stats import ChargerOutcome, RunStats, percentile
from voltway.statedir import LocalInfo, write_local_info


class NoConnection:
    """The charger's handlers never touch the connection; sending would be a bug in these tests."""

    async def send(self, message: str) -> None:
        raise AssertionError(f"unexpected send: {message}")

    async def recv(self) -> str:
        raise AssertionError("unexpected recv")


def charger(**settings: Any) -> SimulatedCharger:
    cp = SimulatedCharger(
        "CP1", NoConnection(), ChargerSettings(**settings), RunStats(), rng=random.Random(7)
    )
    cp.registration = RegistrationStatus.accepted
    return cp


def answer(cp: SimulatedCharger, action: str, **payload: Any) -> Any:
    return COMMAND_HANDLERS[action](cp, **payload)


# -- meter ------------------------------------------------------------------------------------------


def test_energy_never_decreases_and_power_stays_within_the_connector() -> None:
    meter = ConnectorMeter(max_power_w=22_000, rng=random.Random(1))
    readings = []
    for _ in range(5):
        start = meter.start_session()
        for _ in range(50):
            meter.advance(30.0)
            assert 0 <= meter.power_w <= 22_000
            readings.append(meter.register_wh)
        assert meter.stop_session() >= start
    assert readings == sorted(readings)
    assert readings[-1] > readings[0]


def test_energy_matches_power_over_time() -> None:
    meter = ConnectorMeter(max_power_w=11_000, rng=random.Random(2))
    meter.start_session()
    meter.advance(0.0)
    power, before = meter.power_w, meter.register_wh
    meter.advance(3600.0)
    assert meter.register_wh - before == pytest.approx(power)


def test_sampled_values_per_phase_and_units() -> None:
    meter = ConnectorMeter(max_power_w=11_000, phases=3, rng=random.Random(3))
    meter.start_session()
    meter.advance(0.0)
    measurands = parse_measurands(
        "Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage,SoC"
    )
    values = meter.sampled_values(measurands, per_phase=True)
    by_measurand: dict[str, list[Any]] = {}
    for value in values:
        by_measurand.setdefault(value.measurand, []).append(value)
    assert [v.phase for v in by_measurand["Current.Import"]] == ["L1", "L2", "L3"]
    assert [v.phase for v in by_measurand["Voltage"]] == ["L1-N", "L2-N", "L3-N"]
    assert by_measurand["Energy.Active.Import.Register"][0].unit == "Wh"
    assert by_measurand["Energy.Active.Import.Register"][0].value.isdigit()
    assert by_measurand["SoC"][0].location == "EV"


def test_unknown_measurands_are_refused() -> None:
    with pytest.raises(ValueError):
        parse_measurands("Energy.Active.Import.Register,Bogus")
    with pytest.raises(ValueError, match="not simulated"):
        parse_measurands("RPM")


# -- statistics -------------------------------------------------------------------------------------


def test_percentile_is_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([], 0.5) == 0.0


def test_summary_counts_results_errors_and_unanswered_calls() -> None:
    stats = RunStats(chargers_planned=1, sessions_planned=1)
    stats.charger_connected("A")
    stats.call_sent("A", "1", "BootNotification")
    stats.response_received("A", "1", None)
    stats.call_sent("A", "2", "StartTransaction")
    stats.response_received("A", "2", "NotSupported")
    stats.call_sent("A", "3", "Heartbeat")  # never answered
    stats.charger_finished("A", ChargerOutcome.COMPLETED)
    stats.finish()

    summary = stats.summary()
    assert summary["responses"]["BootNotification"] == {"CALLRESULT": 1, "CALLERROR": {}}
    assert summary["responses"]["StartTransaction"] == {"CALLRESULT": 0, "CALLERROR": {"NotSupported": 1}}
    assert summary["frames"] == {"sent": 3, "received": 2, "per_second": summary["frames"]["per_second"]}
    assert summary["calls"]["unanswered"] == 1
    assert summary["latency"]["overall"]["count"] == 2
    assert summary["ok"] is False
    json.dumps(summary)  # JSON-able as is


def test_a_later_completion_does_not_hide_a_failure() -> None:
    stats = RunStats()
    stats.charger_finished("A", ChargerOutcome.DISCONNECTED, "connection closed")
    stats.charger_finished("A", ChargerOutcome.COMPLETED)
    assert stats.outcomes["A"] == ChargerOutcome.DISCONNECTED
    assert stats.failed_chargers == 1


# -- the command table ------------------------------------------------------------------------------


def test_the_table_answers_the_commands_a_charger_must_handle() -> None:
    required = {
        Action.reset,
        Action.remote_start_transaction,
        Action.remote_stop_transaction,
        Action.change_configuration,
        Action.get_configuration,
        Action.trigger_message,
        Action.unlock_connector,
        Action.change_availability,
        Action.clear_cache,
        Action.data_transfer,
    }
    assert required <= set(COMMAND_HANDLERS)


def test_change_configuration_statuses_and_effects() -> None:
    cp = charger()
    assert (
        answer(cp, Action.change_configuration, key="NumberOfConnectors", value="4").payload.status
        == "Rejected"
    )
    assert (
        answer(cp, Action.change_configuration, key="NoSuchKey", value="1").payload.status == "NotSupported"
    )
    assert (
        answer(cp, Action.change_configuration, key="HeartbeatInterval", value="-1").payload.status
        == "Rejected"
    )
    assert (
        answer(cp, Action.change_configuration, key="HeartbeatInterval", value="42").payload.status
        == "Accepted"
    )
    assert cp.heartbeat_interval_s == 42.0
    reply = answer(cp, Action.change_configuration, key="MeterValuesSampledData", value="Power.Active.Import")
    assert reply.payload.status == "Accepted"
    assert cp.measurands == (Measurand.power_active_import,)


def test_get_configuration_never_reveals_the_authorization_key() -> None:
    cp = charger()
    everything = answer(cp, Action.get_configuration).payload
    assert "AuthorizationKey" not in {kv.key for kv in everything.configuration_key}
    asked = answer(cp, Action.get_configuration, key=["AuthorizationKey", "NumberOfConnectors"]).payload
    assert [kv.key for kv in asked.configuration_key] == ["NumberOfConnectors"]
    assert asked.unknown_key == ["AuthorizationKey"]


def test_remote_start_reserves_a_connector_and_refuses_when_it_cannot() -> None:
    cp = charger(connectors=1)
    accepted = answer(cp, Action.remote_start_transaction, id_tag="T1")
    assert accepted.payload.status == "Accepted" and accepted.then is not None
    accepted.then().close()  # the follow-up would run the session; here only its reservation matters
    assert cp.connectors[1].busy
    assert answer(cp, Action.remote_start_transaction, id_tag="T2").payload.status == "Rejected"
    assert (
        answer(cp, Action.remote_start_transaction, id_tag="T2", connector_id=9).payload.status == "Rejected"
    )
    pending = charger()
    pending.registration = RegistrationStatus.pending
    assert answer(pending, Action.remote_start_transaction, id_tag="T3").payload.status == "Rejected"


def test_remote_stop_unlock_availability_trigger_and_data_transfer() -> None:
    cp = charger()
    cp.connectors[1].busy, cp.connectors[1].transaction_id = True, 77
    assert answer(cp, Action.remote_stop_transaction, transaction_id=78).payload.status == "Rejected"
    assert answer(cp, Action.remote_stop_transaction, transaction_id=77).payload.status == "Accepted"
    assert cp.connectors[1].stop_reason == "Remote"
    assert answer(cp, Action.unlock_connector, connector_id=5).payload.status == "NotSupported"
    assert answer(cp, Action.unlock_connector, connector_id=2).payload.status == "Unlocked"

    scheduled = answer(cp, Action.change_availability, connector_id=0, type="Inoperative")
    assert scheduled.payload.status == "Scheduled"
    assert cp.connectors[1].pending_inoperative and not cp.connectors[2].operative
    assert scheduled.then is not None
    scheduled.then().close()

    assert answer(cp, Action.trigger_message, requested_message="Heartbeat").payload.status == "Accepted"
    rejected = answer(cp, Action.trigger_message, requested_message="StatusNotification", connector_id=9)
    assert rejected.payload.status == "Rejected"
    assert answer(cp, Action.data_transfer, vendor_id="Other").payload.status == "UnknownVendorId"
    echoed = answer(cp, Action.data_transfer, vendor_id="Voltway", data="ping").payload
    assert (echoed.status, echoed.data) == ("Accepted", "ping")
    assert answer(cp, Action.clear_cache).payload.status == "Accepted"
    reset = answer(cp, Action.reset, type="Hard")
    assert reset.payload.status == "Accepted" and reset.then is not None
    reset.then().close()


# -- CLI helpers ------------------------------------------------------------------------------------


def test_charger_url_and_basic_auth() -> None:
    assert charger_url("ws://h:9000/ocpp/", "CP1") == "ws://h:9000/ocpp/CP1"
    assert charger_url("wss://h/prod/{chargePointId}?x=1", "CP1") == "wss://h/prod/CP1?x=1"
    assert basic_auth_header("CP1", "pw") == "Basic Q1AxOnB3"
    assert SimulationConfig(url="ws://x", chargers=12345, prefix="S").charger_ids()[0] == "S00001"


def test_passwords_file_formats(tmp_path: Path) -> None:
    lines = tmp_path / "pw.txt"
    lines.write_text("# id password\nSIM0001 first-password\nSIM0002:second\nSIM0003,third\n\n")
    assert command.read_passwords_file(lines) == {
        "SIM0001": "first-password",
        "SIM0002": "second",
        "SIM0003": "third",
    }
    as_json = tmp_path / "pw.json"
    as_json.write_text('{"A": "one"}')
    assert command.read_passwords_file(as_json) == {"A": "one"}
    bad = tmp_path / "bad.txt"
    bad.write_text("lonely\n")
    with pytest.raises(ValueError, match=r"bad\.txt:1"):
        command.read_passwords_file(bad)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    return parser.parse_args(argv)


def test_url_defaults_to_the_running_local_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOLTWAY_STATE_DIR", str(tmp_path))
    assert command.build_config(parse([])).url == command.DEFAULT_URL
    info = LocalInfo(
        http_api_url="http://127.0.0.1:8000",
        charger_ws_url="ws://127.0.0.1:9123/ocpp",
        management_url="http://127.0.0.1:9001",
        region="eu-west-1",
        stage="local",
        jwt_issuer="i",
        jwt_audience="a",
    )
    write_local_info(info, tmp_path)
    assert command.build_config(parse([])).url == "ws://127.0.0.1:9123/ocpp"
    assert command.build_config(parse(["--url", "ws://other/ocpp"])).url == "ws://other/ocpp"


def test_register_without_password_generates_one_per_charger(tmp_path: Path) -> None:
    config = command.build_config(parse(["--url", "ws://x/ocpp", "--chargers", "3", "--register"]))
    passwords = [config.password_for(cid) for cid in config.charger_ids()]
    assert len(set(passwords)) == 3
    assert all(p is not None and 16 <= len(p) <= 40 for p in passwords)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(SystemExit):
        parse(["--chargers", "0"])
    with pytest.raises(SystemExit):
        parse(["--measurands", "Bogus"])
    with pytest.raises(ValueError, match="ws://"):
        command.build_config(parse(["--url", "http://x"]))


# -- report -----------------------------------------------------------------------------------------


def test_progress_is_one_updating_line_on_a_tty_and_periodic_lines_otherwise() -> None:
    stats = RunStats(chargers_planned=2, sessions_planned=4)
    tty = io.StringIO()
    bar = ProgressBar(tty, tty=True)
    bar(stats)
    bar(stats)
    bar.close(stats)
    assert tty.getvalue().count("\n") == 1 and tty.getvalue().count("\r") == 3

    plain = io.StringIO()
    periodic = ProgressBar(plain, tty=False, line_interval_s=3600)
    periodic(stats)
    periodic(stats)  # too soon for another line
    assert plain.getvalue().count("\n") == 1 and "\r" not in plain.getvalue()


def test_progress_counts_a_finished_charger_as_all_its_sessions() -> None:
    stats = RunStats(chargers_planned=2, sessions_planned=4)
    assert stats.progress() == 0.0
    stats.session_completed("A", 10, remote=False)
    assert stats.progress() == pytest.approx(1 / 6)
    stats.charger_finished("B", ChargerOutcome.REFUSED, "HTTP 401")
    assert stats.progress() == pytest.approx(4 / 6)
    assert "1 refused" in progress_line(stats)


def test_text_summary_names_problems_and_error_codes() -> None:
    stats = RunStats(chargers_planned=1)
    stats.call_sent("A", "1", "StartTransaction")
    stats.response_received("A", "1", "NotSupported")
    stats.charger_finished("B", ChargerOutcome.REFUSED, "HTTP 401 Unauthorized")
    text = format_summary(stats.summary(), "ws://x/ocpp")
    assert "B: HTTP 401 Unauthorized" in text
    assert "NotSupported: 1" in text
    assert "FAILED" in text
