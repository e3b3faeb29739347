from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.main import app
from bot.settings import load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "SLACK_BOT_TOKEN", "GITHUB_TOKEN", "TUGBOAT_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_standard_names_and_prefixed_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-123")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1")
    monkeypatch.setenv("TUGBOAT_LLM_MODEL", "qwen2.5")
    monkeypatch.setenv("TUGBOAT_PROMETHEUS_URL", "http://prom:9090")
    settings = load_settings()
    assert settings.openai_api_key is not None
    assert settings.openai_api_key.get_secret_value() == "sk-test-123"
    assert settings.openai_base_url == "http://127.0.0.1:8000/v1"
    assert settings.llm_model == "qwen2.5"
    assert settings.prometheus_url == "http://prom:9090"
    assert settings.llm_configured


def test_yaml_file_with_nested_policy_and_env_precedence(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "tugboat.yaml").write_text(
        "prometheus_url: http://from-yaml:9090\n"
        "llm_model: from-yaml\n"
        "policy:\n  approvers: [U111, U222]\n  required_approvals: 2\n"
        "  rules:\n    - namespace: 'prod*'\n      required_approvals: 3\n"
        "slack_routes:\n  - {label: team, value: payments, channel: C123}\n"
    )
    monkeypatch.setenv("TUGBOAT_LLM_MODEL", "from-env")
    settings = load_settings()
    assert settings.prometheus_url == "http://from-yaml:9090"
    assert settings.llm_model == "from-env"
    assert settings.policy.approvers == ["U111", "U222"]
    assert settings.policy.rules[0].required_approvals == 3
    assert settings.slack_routes[0].channel == "C123"


def test_config_file_named_by_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "elsewhere.yaml"
    path.write_text("database_url: sqlite:////var/lib/tugboat/t.db\n")
    monkeypatch.setenv("TUGBOAT_CONFIG", str(path))
    assert load_settings().database_url == "sqlite:////var/lib/tugboat/t.db"


def test_config_show_masks_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-secret-token")
    monkeypatch.setenv("TUGBOAT_DATABASE_URL", "postgresql://tug:hunter2@db:5432/tugboat")
    monkeypatch.setenv("TUGBOAT_PROMETHEUS_HEADERS", '{"Authorization": "Bearer abc"}')
    result = CliRunner().invoke(app, ["config", "show"])
    assert result.exit_code == 0, result.output
    for secret in ("sk-very-secret", "xoxb-secret-token", "hunter2", "Bearer abc"):
        assert secret not in result.output
    assert "openai_api_key: '********'" in result.output
    assert "postgresql://tug:********@db:5432/tugboat" in result.output


def test_invalid_configuration_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUGBOAT_HTTP_PORT", "not-a-port")
    result = CliRunner().invoke(app, ["config", "show"])
    assert result.exit_code != 0
    assert "invalid configuration" in str(result.exception)


def test_readme_configuration_reference_is_current() -> None:
    from bot.cli.config_cmd import reference_table

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    start = readme.index("<!-- config-reference:start -->") + len("<!-- config-reference:start -->")
    end = readme.index("<!-- config-reference:end -->")
    assert readme[start:end].strip() == reference_table().strip(), (
        "README's configuration reference is stale: paste the output of `tugboat config reference`"
    )


def test_housekeeping_needs_a_schedule_but_capacity_may_be_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.domain.errors import InvalidInput

    for empty in ("", "   "):
        with pytest.raises(
            InvalidInput, match=r"invalid configuration: housekeeping_cron: .*needs a schedule"
        ):
            load_settings(housekeeping_cron=empty)
    monkeypatch.setenv("TUGBOAT_HOUSEKEEPING_CRON", "")
    with pytest.raises(InvalidInput, match="housekeeping_cron"):
        load_settings()
    monkeypatch.delenv("TUGBOAT_HOUSEKEEPING_CRON")

    assert load_settings(capacity_cron="").capacity_cron == ""  # empty: the capacity check never runs
    assert load_settings(capacity_cron="  ").capacity_cron == ""
    assert load_settings(anomaly_cron=" ").anomaly_cron == ""  # empty: no early warnings
    assert load_settings().anomaly_cron == "*/10 * * * *"
    settings = load_settings(housekeeping_cron=" */5 * * * * ", capacity_cron="* * * * * */10")
    assert settings.housekeeping_cron == "*/5 * * * *"  # stripped
    assert settings.capacity_cron == "* * * * * */10"  # a sixth field counts seconds


@pytest.mark.parametrize("field", ["housekeeping_cron", "capacity_cron", "anomaly_cron"])
@pytest.mark.parametrize("value", ["every tuesday", "61 * * * *", "* * *"])
def test_a_malformed_cron_is_a_clear_error(field: str, value: str) -> None:
    from bot.domain.errors import InvalidInput

    with pytest.raises(InvalidInput, match=rf"invalid configuration: {field}: .*is not a cron expression"):
        load_settings(**{field: value})


def test_the_anomaly_threshold_is_a_score_and_its_env_name_is_tugboat_anomaly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bot.domain.errors import InvalidInput

    assert load_settings().anomaly_threshold == 0.40
    monkeypatch.setenv("TUGBOAT_ANOMALY_THRESHOLD", "0.6")
    monkeypatch.setenv("TUGBOAT_ANOMALY_COOLDOWN_MINUTES", "30")
    settings = load_settings()
    assert (settings.anomaly_threshold, settings.anomaly_cooldown_minutes) == (0.6, 30.0)
    with pytest.raises(InvalidInput, match=r"^invalid configuration: anomaly_threshold: "):
        load_settings(anomaly_threshold=1.5)


def test_posts_follow_the_alert_routes_then_the_default_channel() -> None:
    settings = load_settings(
        slack_channel="C_DEFAULT",
        slack_routes=[{"label": "namespace", "value": "payments", "channel": "C_PAY"}],
    )
    assert settings.channel_for({"namespace": "payments", "workload": "checkout"}) == "C_PAY"
    assert settings.channel_for({"namespace": "shop"}) == "C_DEFAULT"
