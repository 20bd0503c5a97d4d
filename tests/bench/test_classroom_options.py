"""`bench.classroom`'s options reach the server it starts."""

import pytest

from bench import classroom


def test_store_option_sets_the_servers_store():
    config = classroom.parse_args(["--store", "postgresql://bench@127.0.0.1:5432/room"])
    assert config.server_env()["SOFTMAX_PLAYGROUND_STORE"] == "postgresql://bench@127.0.0.1:5432/room"


def test_without_store_the_server_keeps_sqlite_in_its_data_folder():
    assert "SOFTMAX_PLAYGROUND_STORE" not in classroom.parse_args([]).server_env()


def test_a_store_that_is_not_postgresql_is_refused(capsys):
    with pytest.raises(SystemExit):
        classroom.parse_args(["--store", "runs.db"])
    assert "postgresql://" in capsys.readouterr().err


def test_trainer_option_is_kept():
    assert classroom.parse_args(["--trainer", "both"]).trainer == "both"


def test_paused_students_are_counted_per_wave_and_the_smoke_run_pauses_one():
    assert classroom.parse_args(["--students", "30", "--paused", "10"]).paused == 10
    assert classroom.parse_args(["--smoke"]).paused == 1
    assert classroom.parse_args([]).paused == 0


def test_more_paused_students_than_students_is_refused(capsys):
    with pytest.raises(SystemExit):
        classroom.parse_args(["--students", "3", "--paused", "4"])
    assert "--paused" in capsys.readouterr().err


def test_the_pause_metric_is_shown_only_when_somebody_pauses():
    assert "train pause → paused shown" in classroom.Report(classroom.parse_args(["--paused", "2"])).shown_metrics
    assert "train pause → paused shown" not in classroom.Report(classroom.parse_args([])).shown_metrics
