"""``modelrail drift compare`` on files: the JSON shape, the table, HTML, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelrail.cli import main


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(2)
    ref = pd.DataFrame({"x": rng.normal(size=800), "c": rng.choice(["a", "b"], 800)})
    cur = pd.DataFrame({"x": rng.normal(1.0, size=600), "c": rng.choice(["a", "b"], 600)})
    ref.to_csv(tmp_path / "ref.csv", index=False)
    cur.to_parquet(tmp_path / "cur.parquet")
    return tmp_path / "ref.csv", tmp_path / "cur.parquet"


def test_json_output_has_the_promised_shape(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    ref, cur = files
    assert main(["drift", "compare", "--reference", str(ref), "--current", str(cur), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["dataset"]["n_reference"] == 800 and out["dataset"]["n_current"] == 600
    assert out["dataset"]["drift_share"] == 0.5 and out["dataset"]["drifted"] is True
    x, c = out["features"]
    for key in ("name", "kind", "test", "score", "threshold", "drifted", "p_value", "psi", "ks"):
        assert key in x
    assert (x["name"], x["kind"], x["test"], x["drifted"]) == ("x", "numeric", "ks", True)
    assert (c["kind"], c["test"]) == ("binary", "z")


def test_table_and_html(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ref, cur = files
    html = tmp_path / "r.html"
    assert (
        main(
            [
                "drift",
                "compare",
                "--reference",
                str(ref),
                "--current",
                str(cur),
                "--html",
                str(html),
            ]
        )
        == 0
    )
    assert "dataset: DRIFT: 1/2 features drifted" in capsys.readouterr().out
    page = html.read_text()
    assert (
        page.count("<svg") == 2
        and "<script" not in page
        and "http" not in page.replace("http://www.w3.org/2000/svg", "")
    )


def test_contract_kinds(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ref, cur = files
    with pytest.raises(SystemExit):
        main(
            [
                "drift",
                "compare",
                "--reference",
                str(ref),
                "--current",
                str(cur),
                "--model",
                "a",
                "--contract",
                "b",
            ]
        )
    assert (
        main(
            ["drift", "compare", "--reference", str(ref), "--current", str(cur), "--model", "churn"]
        )
        == 2
    )
    assert "no column" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing", "no such file"),
        ("empty", "is empty"),
        ("column", "no column 'x'"),
        ("text", "is numeric but holds"),
    ],
)
def test_bad_input_exits_2_without_traceback(
    files: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    setup: str,
    message: str,
) -> None:
    ref, cur = files
    if setup == "missing":
        cur = tmp_path / "nope.csv"
    elif setup == "empty":
        cur = tmp_path / "empty.csv"
        cur.write_text("")
    elif setup == "column":
        cur = tmp_path / "other.csv"
        pd.DataFrame({"c": ["a"]}).to_csv(cur, index=False)
    else:
        cur = tmp_path / "text.csv"
        pd.DataFrame({"x": ["oops"], "c": ["a"]}).to_csv(cur, index=False)
    assert main(["drift", "compare", "--reference", str(ref), "--current", str(cur)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_contract_kinds_on_sample_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from modelrail.contract import load_contract
    from modelrail.sample import sample_command

    good = sample_command("churn", 1500, 1, tmp_path / "good.csv")
    drifted = sample_command("churn", 1500, 2, tmp_path / "drifted.csv", variant="drifted")
    same = sample_command("churn", 1500, 3, tmp_path / "same.csv")
    contract = load_contract("churn")
    expected = [
        c.name for c in contract.columns if c.name != contract.target and c.type != "datetime"
    ]
    for current, drift in ((drifted, True), (same, False)):
        args = [
            "drift",
            "compare",
            "--reference",
            str(good),
            "--current",
            str(current),
            "--model",
            "churn",
        ]
        assert main([*args, "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert [f["name"] for f in out["features"]] == expected
        assert any(f["drifted"] for f in out["features"]) is drift
