"""The engine's statistics against scipy's (dev environment only: the engine itself
never imports scipy)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps
from scipy.spatial import distance

from modelrail.drift import stats


@pytest.mark.parametrize(
    ("n1", "n2", "shift"),
    [
        (5, 7, 0.0),
        (20, 20, 0.3),
        (100, 37, 0.0),
        (200, 1000, 0.5),
        (1000, 1000, 0.2),
        (50, 10_000, 0.1),
        (300, 20_000, 0.0),
        (1000, 20_000, 0.15),
        (12_000, 15_000, 0.03),
    ],
)
def test_ks_pvalue_matches_scipy_exact_and_asymptotic(n1: int, n2: int, shift: float) -> None:
    rng = np.random.default_rng(n1 * 7 + n2)
    a, b = rng.normal(size=n1), rng.normal(shift, size=n2)
    expected = sps.ks_2samp(a, b)
    assert stats.ks_pvalue(float(expected.statistic), n1, n2) == pytest.approx(
        expected.pvalue, abs=1e-9
    )


@pytest.mark.parametrize("n", [10, 100, 140, 141, 500, 1000, 5000, 20_000, 200_000])
def test_kolmogorov_sf_matches_scipy_kstwo_in_every_region(n: int) -> None:
    for x in np.linspace(0.2 / math.sqrt(n), 3.5 / math.sqrt(n), 25):
        assert stats.kolmogorov_sf(float(x), n) == pytest.approx(sps.kstwo.sf(x, n), abs=1e-9), x
    for x in (0.4 / n, 0.9 / n, 0.6, 1 - 0.5 / n):  # Ruben-Gambino ends and x >= 0.5
        assert stats.kolmogorov_sf(x, n) == pytest.approx(sps.kstwo.sf(x, n), abs=1e-9), x


def test_ks_pvalue_rejects_empty_samples_and_bad_statistics() -> None:
    with pytest.raises(ValueError, match="two non-empty samples"):
        stats.ks_pvalue(0.1, 0, 5)
    with pytest.raises(ValueError, match="out of"):
        stats.ks_pvalue(float("nan"), 5, 5)


@pytest.mark.parametrize("dof", [1, 2, 3, 7, 30, 250])
def test_chi2_sf_matches_scipy(dof: int) -> None:
    for x in (0.001, 0.5, 2.0, 9.0, 40.0, 300.0):
        assert stats.chi2_sf(x, dof) == pytest.approx(sps.chi2.sf(x, dof), rel=1e-10, abs=1e-15)


def test_chi_square_matches_scipy_chisquare_and_gives_zero_for_an_unexpected_cell() -> None:
    obs, exp = [30.0, 50.0, 20.0], [33.0, 40.0, 27.0]
    statistic, p = stats.chi_square(obs, exp)
    expected = sps.chisquare(obs, exp)
    assert (statistic, p) == pytest.approx((expected.statistic, expected.pvalue), rel=1e-12)
    assert stats.chi_square([5.0, 5.0], [10.0, 0.0]) == (math.inf, 0.0)


def test_two_proportion_z_matches_the_normal_tail() -> None:
    z, p = stats.two_proportion_z(30, 200, 60, 250)
    pooled = 90 / 450
    expected_z = (30 / 200 - 60 / 250) / math.sqrt(pooled * (1 - pooled) * (1 / 200 + 1 / 250))
    assert z == pytest.approx(expected_z)
    assert p == pytest.approx(2 * sps.norm.sf(abs(expected_z)), rel=1e-12)
    assert stats.two_proportion_z(0, 10, 0, 20) == (0.0, 1.0)


def test_jensen_shannon_matches_scipy_natural_log() -> None:
    p, q = np.array([0.1, 0.4, 0.5, 0.0]), np.array([0.3, 0.3, 0.2, 0.2])
    assert stats.jensen_shannon(p, q) == pytest.approx(distance.jensenshannon(p, q), rel=1e-12)
    assert stats.jensen_shannon(p * 7, p) == pytest.approx(0.0, abs=1e-12)


def test_psi_fills_empty_bins_as_evidently_does() -> None:
    filled = stats.fill_zero_shares(np.array([0.5, 0.5, 0.0]))
    assert filled.tolist() == [0.5, 0.5, 1e-4]
    filled = stats.fill_zero_shares(np.array([0.99995, 0.00005, 0.0]))
    assert filled[2] == pytest.approx(0.00005 / 1e6)
    ref, cur = np.array([0.2, 0.3, 0.5]), np.array([0.25, 0.25, 0.5])
    assert stats.psi(ref, cur) == pytest.approx(float(np.sum((ref - cur) * np.log(ref / cur))))
    with pytest.raises(ValueError, match="non-empty bin"):
        stats.fill_zero_shares(np.zeros(3))


def test_benjamini_hochberg_matches_scipy() -> None:
    p = [0.01, 0.04, 0.03, 0.2, 0.9, 0.001]
    assert stats.benjamini_hochberg(p) == pytest.approx(
        sps.false_discovery_control(p).tolist(), rel=1e-12
    )
    assert stats.benjamini_hochberg([]) == []


@pytest.mark.parametrize("bad", [[], [0.5, math.nan], [0.5, math.inf], [-0.1, 1.1]])
def test_counts_with_nan_inf_negative_or_nothing_are_explicit_errors(bad: list[float]) -> None:
    with pytest.raises(ValueError, match=r"no bins|finite and >= 0"):
        stats.psi(bad, [0.5, 0.5][: len(bad)] or [])
    with pytest.raises(ValueError, match=r"no bins|finite and >= 0"):
        stats.chi_square(bad, [1.0] * len(bad))


def test_jensen_shannon_rejects_empty_distributions() -> None:
    with pytest.raises(ValueError, match="non-empty distributions"):
        stats.jensen_shannon(np.zeros(3), np.ones(3))
