"""Model cards (modelrail.model_card): the facts, escaping, slices and the files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from modelrail.contract import ModelContract, load_contract
from modelrail.model_card import (
    ModelCard,
    build_card,
    md_escape,
    parse_slice_key,
    render_html,
    render_markdown,
    write_card,
)
from modelrail.registry import (
    AliasName,
    ChampionComparison,
    GateResult,
    InMemoryRegistry,
    ModelVersion,
    VersionStatus,
)
from tests.conftest_registry import TickClock, gates, lineage

DEMAND = load_contract("demand")  # rmse <= 25; secondary mae, r2
GENERATED = "2025-02-01T00:00:00.000000Z"
SCRIPT = "<script>alert('x')</script>"


def registry_with_history(
    metrics: dict[str, float] | None = None, *, reason: str = "beats v1 on rmse"
) -> tuple[InMemoryRegistry, ModelVersion]:
    """demand v1 (champion first) and v2 (approved, then champion; v1 becomes previous)."""
    registry = InMemoryRegistry(clock=TickClock())
    for n in (1, 2):
        registry.register_version(
            "demand",
            metrics=metrics or {"rmse": 12.5, "mae": 8.25, "r2": 0.81},
            lineage=lineage(
                f"train-demand-{n}",
                training_job_arn=f"arn:aws:sagemaker:us-east-1:123456789012:training-job/train-demand-{n}",
                pipeline_execution_arn="arn:aws:states:us-east-1:123456789012:execution:p:e1",
                git_commit="0123abc",
                champion_at_training=None if n == 1 else 1,
            ),
            gates=gates(),
            created_by="pipeline",
        )
        registry.transition("demand", n, VersionStatus.APPROVED, by="alice", reason=reason)
    registry.move_alias(
        "demand", AliasName.CHAMPION, to_version=1, expected_version=None, by="bob", reason="first"
    )
    registry.move_alias(
        "demand", AliasName.CHAMPION, to_version=2, expected_version=1, by="bob", reason=reason
    )
    registry.move_alias(
        "demand", AliasName.PREVIOUS, to_version=1, expected_version=None, by="bob", reason="v2 won"
    )
    return registry, registry.get_version("demand", 2)


def card_for(
    registry: InMemoryRegistry,
    version: int = 2,
    contract: ModelContract | None = DEMAND,
) -> ModelCard:
    history = [c for name in AliasName for c in registry.alias_history("demand", name)]
    champion = registry.get_alias("demand", AliasName.CHAMPION)
    return build_card(
        registry.get_version("demand", version),
        contract=contract,
        alias_history=history,
        champion=None if champion is None else champion.version,
        generated_at=GENERATED,
    )


def unescape_md(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


KEY_FACTS = [
    "Model card: demand v2",
    "Daily units sold per store and product category",
    "regression",
    "units_sold",
    "s3://modelrail-data/datasets/demand/2025-01-01.csv",
    "a" * 64,
    "1,000",
    "12,345 bytes",
    "12.5",  # rmse
    "25",  # its threshold
    "train-demand-2",
    "arn:aws:sagemaker:us-east-1:123456789012:training-job/train-demand-2",
    "arn:aws:states:us-east-1:123456789012:execution:p:e1",
    "sklearn:1.4-2",
    "c0de",
    "0123abc",
    "max",  # the max_depth hyperparameter (escaped differently per format)
    "beats v1 on rmse",
    "v2 is the champion now.",
    GENERATED,
]


def test_markdown_has_the_key_facts() -> None:
    registry, _ = registry_with_history()
    text = render_markdown(card_for(registry))
    for fact in KEY_FACTS:
        assert fact in unescape_md(text), fact
    assert "max\\_depth" in text
    assert "| rmse | 12.5 | primary | <= 25 | pass |" in text.replace("\\<", "<")
    assert "- **Champion now:** yes" in text
    assert "All 2 gates passed." in text
    # status history: registered by the pipeline, then approved by alice
    assert re.search(r"\| \(new\) \| registered \| .+ \| pipeline \| registered \|", text)
    assert re.search(r"\| registered \| approved \| .+ \| alice \| beats v1 on rmse \|", text)
    # alias history involving v2: champion v1 -> v2 (but not previous -> v1)
    assert re.search(r"\| champion \| v1 \| v2 \| 2 \| .+ \| bob \| beats v1 on rmse \|", text)
    assert "v2 won" not in text
    assert "No slice metrics recorded." in text


def test_html_has_the_key_facts_and_is_self_contained() -> None:
    registry, _ = registry_with_history()
    page = render_html(card_for(registry))
    for fact in KEY_FACTS:
        assert fact in page, fact
    assert page.startswith("<!DOCTYPE html>")
    assert "<style>" in page and "<script" not in page
    assert "Content-Security-Policy" in page
    assert not re.search(r"""(src|href)\s*=""", page)
    assert "@import" not in page and "url(" not in page
    assert '<td class="pass">pass</td>' in page
    assert "&lt;= 25" in page


def test_an_old_version_shows_its_alias_moves_and_the_current_champion() -> None:
    registry, _ = registry_with_history()
    text = render_markdown(card_for(registry, version=1))
    assert "v1 is not the champion; the champion is v2." in text
    assert "- **Champion now:** no (the champion is v2)" in text
    # v1: made champion, replaced by v2, then made previous
    assert re.search(r"\| champion \| unset \| v1 \| 1 \|", text)
    assert re.search(r"\| champion \| v1 \| v2 \| 2 \|", text)
    assert re.search(r"\| previous \| unset \| v1 \| 1 \| .+ \| v2 won \|", text)


def test_html_escapes_a_script_in_a_reason() -> None:
    registry, _ = registry_with_history(reason=SCRIPT)
    page = render_html(card_for(registry))
    assert "<script" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page


def test_markdown_escapes_html_and_table_syntax() -> None:
    registry, _ = registry_with_history(reason=f"a | b {SCRIPT} [x](javascript:1)")
    text = render_markdown(card_for(registry))
    assert not re.search(r"(?<!\\)[<>]", text)  # no raw angle bracket anywhere
    assert "\\<script\\>" in text
    assert "a \\| b" in text
    assert "\\[x\\](javascript:1)" in text
    # every row of the status history table still has five cells
    rows = [line for line in text.splitlines() if "alice" in line and line.startswith("|")]
    assert rows and all(len(re.split(r"(?<!\\)\|", row)) == 7 for row in rows)
    assert md_escape("two\nlines") == "two lines"


def test_slice_metrics_get_their_own_table_judged_on_the_primary_threshold() -> None:
    metrics = {
        "rmse": 12.5,
        "mae": 8.25,
        "slice:store_id=S01:rmse": 10.0,
        "slice:store_id=S01:mae": 7.0,
        "slice:store_id=S02:rmse": 31.5,
        "slice:month=12:rmse": 20.0,
    }
    registry, _ = registry_with_history(metrics)
    card = card_for(registry)
    assert [m.name for m in card.metrics] == ["rmse", "mae"]
    assert len(card.slices) == 4
    text = render_markdown(card)
    assert "No slice metrics recorded." not in text
    assert "| Column | Value | mae | rmse |" in text
    assert "| store\\_id | S01 | 7 | 10 (pass) |" in text
    assert "| store\\_id | S02 | - | 31.5 (fail) |" in text
    assert "| month | 12 | - | 20 (pass) |" in text
    page = render_html(card)
    assert '<td class="fail">31.5 (fail)</td>' in page
    assert "slice:store_id" not in page  # never shown as an overall metric


def test_no_slices_and_no_contract() -> None:
    registry, _ = registry_with_history()
    card = card_for(registry, contract=None)
    text = render_markdown(card)
    assert "No slice metrics recorded." in text
    assert "No contract was found for this model" in text
    assert "No contract: thresholds unknown." in text
    assert "| Metric | Value |" in text
    assert "primary" not in text


def test_a_missing_primary_metric_is_called_out() -> None:
    registry, _ = registry_with_history({"mae": 8.25})
    text = render_markdown(card_for(registry))
    assert "The primary metric 'rmse' was not recorded." in text


def test_failed_gates_and_their_reasons_are_shown() -> None:
    registry = InMemoryRegistry(clock=TickClock())
    v = registry.register_version(
        "demand", metrics={"rmse": 31.2}, lineage=lineage(), gates=gates(False), created_by="ci"
    )
    card = build_card(v, contract=DEMAND, alias_history=[], champion=None, generated_at=GENERATED)
    text = render_markdown(card)
    assert "Failed: rmse." in text
    assert "| rmse | fail | rmse 31.2 \\> 25 |" in text
    assert "| rmse | 31.2 | primary | \\<= 25 | fail |" in text
    assert "This version has never carried an alias." in text
    assert "No champion is set." in text
    assert '<td class="fail">rmse 31.2 &gt; 25</td>' not in render_html(card)  # reasons: plain
    assert "<td>rmse 31.2 &gt; 25</td>" in render_html(card)


def test_a_contract_for_another_model_is_refused() -> None:
    registry = InMemoryRegistry(clock=TickClock())
    v = registry.register_version(
        "churn", metrics={"rmse": 1.0}, lineage=lineage(), gates=gates(), created_by="ci"
    )
    with pytest.raises(ValueError, match="contract 'demand' does not describe model 'churn'"):
        build_card(v, contract=DEMAND, alias_history=[], champion=None, generated_at=GENERATED)


@pytest.mark.parametrize(
    ("key", "parsed"),
    [
        ("slice:store_id=S01:rmse", ("store_id", "S01", "rmse")),
        ("slice:when=2025-01-01T00:00:rmse", ("when", "2025-01-01T00:00", "rmse")),
        ("slice:a=b=c:mae", ("a", "b=c", "mae")),
        ("slice:col=:rmse", ("col", "", "rmse")),
        ("rmse", None),
        ("slice:no-equals:rmse", None),
        ("slice:col=value", None),
        ("slice:=v:rmse", None),
    ],
)
def test_parse_slice_key(key: str, parsed: tuple[str, str, str] | None) -> None:
    assert parse_slice_key(key) == parsed


def test_write_card_writes_both_files(tmp_path: Path) -> None:
    registry, _ = registry_with_history()
    card = card_for(registry)
    markdown, page = write_card(card, tmp_path / "cards")
    assert markdown == tmp_path / "cards" / "demand-v2.md"
    assert page == tmp_path / "cards" / "demand-v2.html"
    assert markdown.read_text(encoding="utf-8") == render_markdown(card)
    assert page.read_text(encoding="utf-8") == render_html(card)


def test_the_champion_comparison_is_shown_with_its_interval_and_sizes() -> None:
    comparison = ChampionComparison(
        metric="rmse",
        point=0.4,
        lower=-0.3,
        upper=1.1,
        confidence=0.95,
        resamples=1000,
        rows=1200,
        margin=0.0,
        significant=False,
    )
    reason = "no significant improvement: rmse 12.1 against the champion's 12.5"
    quality = GateResult(name="quality", passed=False, reasons=[reason], comparison=comparison)
    registry = InMemoryRegistry(clock=TickClock())
    v = registry.register_version(
        "demand", metrics={"rmse": 12.1}, lineage=lineage(), gates=[quality], created_by="ci"
    )
    stored = registry.get_version("demand", v.version).gates[0].comparison
    assert stored == comparison  # the registry keeps it
    card = build_card(v, contract=DEMAND, alias_history=[], champion=None, generated_at=GENERATED)
    text = unescape_md(render_markdown(card))
    for fact in (
        "Against the champion",
        "no significant improvement",
        "Difference (positive is better)",
        "+0.4",
        "95% interval",
        "[-0.3, +1.1]",
        "Paired holdout rows",
        "1,200",
        "Bootstrap resamples",
        "1,000",
    ):
        assert fact in text, fact
    assert "[-0.3, +1.1]" in render_html(card)
