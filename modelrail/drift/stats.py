"""The drift statistics, in numpy and the standard library only (no scipy: no Lambda
layer ships it). Each function takes counts or already-reduced figures, so the engine
can feed it from one-pass summaries; the distributions follow the same definitions as
scipy's (``ks_2samp``'s default method, ``chisquare``, ``jensenshannon`` with natural
logarithms), checked against scipy in the unit tests (D48).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

KS_EXACT_MAX_N = 10_000
"""Like ``ks_2samp(method="auto")``: exact when both samples have at most this many rows."""

_TINY = 1e-300


# -- Kolmogorov-Smirnov ------------------------------------------------------------------


def ks_pvalue(d: float, n1: int, n2: int) -> float:
    """Two-sided p-value of the two-sample KS statistic ``d`` for sizes ``n1``, ``n2``,
    with ``ks_2samp``'s default method: the exact null distribution up to
    :data:`KS_EXACT_MAX_N` rows a side, else the one-sample Kolmogorov distribution at
    the effective size ``round(n1 * n2 / (n1 + n2))``."""
    if n1 <= 0 or n2 <= 0:
        raise ValueError("KS needs two non-empty samples")
    if not 0.0 <= d <= 1.0:
        raise ValueError(f"KS statistic out of [0, 1]: {d}")
    if max(n1, n2) <= KS_EXACT_MAX_N:
        return _ks_exact(d, n1, n2)
    big, small = max(n1, n2), min(n1, n2)
    return kolmogorov_sf(d, round(big * small / (big + small)))


def _ks_exact(d: float, n1: int, n2: int) -> float:
    """P(D >= d) under the null, by the share of lattice paths from (0, 0) to (n1, n2)
    that stay strictly inside the band ``|i/n1 - j/n2| < d``, swept by anti-diagonals.

    ``d`` is first snapped to the lattice (a multiple of 1/lcm) as scipy does."""
    g = math.gcd(n1, n2)
    lcm = n1 // g * n2
    h = round(d * lcm)
    if h == 0:
        return 1.0
    bound = h * g  # inside: |i*n2 - j*n1| < h*g
    m, n = (n1, n2) if n1 <= n2 else (n2, n1)
    # c[i] on diagonal s: share of paths to (i, s - i) that never left the band
    c = np.zeros(m + 1)
    c[0] = 1.0
    i_all = np.arange(m + 1, dtype=np.int64)
    for s in range(1, m + n + 1):
        lo, hi = max(0, s - n), min(m, s)
        i = i_all[lo : hi + 1]
        j = s - i
        from_left = np.where(i > 0, c[np.maximum(i - 1, 0)], 0.0) * (i / s)
        from_below = np.where(j > 0, c[i], 0.0) * (j / s)
        new = from_left + from_below
        new[np.abs(i * n - j * m) >= bound] = 0.0
        c[:] = 0.0
        c[lo : hi + 1] = new
    return float(min(max(1.0 - c[m], 0.0), 1.0))


def kolmogorov_sf(x: float, n: int) -> float:
    """P(D_n >= x) for the one-sample two-sided Kolmogorov statistic (scipy's
    ``kstwo.sf``), choosing the method by the same regions as Simard & L'Ecuyer (2011)."""
    if x >= 1.0:
        return 0.0
    if x <= 0.0:
        return 1.0
    t = n * x
    if t <= 1.0:  # Ruben-Gambino: exact near 1/(2n)
        if t <= 0.5:
            return 1.0
        log_cdf = _log_factorial(n) - n * math.log(n) + n * math.log(2 * t - 1)
        return 1.0 - math.exp(log_cdf)
    if t >= n - 1:
        return 2.0 * (1.0 - x) ** n
    if x >= 0.5:
        return _clip(2.0 * smirnov_sf(n, x))
    nx2 = t * x
    if n <= 140:
        if nx2 <= 4.0:
            return _clip(1.0 - _durbin_cdf(n, x))
        return _clip(2.0 * smirnov_sf(n, x))
    if nx2 >= 370.0:
        return 0.0
    if nx2 >= 2.2:
        return _clip(2.0 * smirnov_sf(n, x))
    if n <= 100_000 and n * x**1.5 <= 1.4:
        return _clip(1.0 - _durbin_cdf(n, x))
    return _clip(1.0 - _pelz_good_cdf(n, x))


def _clip(p: float) -> float:
    return float(min(max(p, 0.0), 1.0))


def _log_factorial(n: int) -> float:
    return math.lgamma(n + 1)


def smirnov_sf(n: int, x: float) -> float:
    """P(D_n^+ >= x), the one-sided statistic, by the Birnbaum-Tingey sum (log terms)."""
    if x <= 0.0:
        return 1.0
    if x >= 1.0:
        return 0.0
    j = np.arange(0, math.floor(n * (1.0 - x)) + 1, dtype=np.float64)
    rest = 1.0 - x - j / n
    keep = rest > 0
    j, rest = j[keep], rest[keep]
    log_binom = _log_factorial(n) - _lgamma(j + 1) - _lgamma(n - j + 1)
    terms = log_binom + (n - j) * np.log(rest) + (j - 1) * np.log(x + j / n)
    top = float(terms.max())
    return float(x * math.exp(top) * np.exp(terms - top).sum())


def _lgamma(values: FloatArray) -> FloatArray:
    flat = np.asarray(values, dtype=np.float64).ravel()
    out = np.fromiter((math.lgamma(v) for v in flat.tolist()), dtype=np.float64, count=flat.size)
    return out.reshape(np.shape(values))


def _durbin_cdf(n: int, d: float) -> float:
    """P(D_n < d) by Durbin's matrix (Marsaglia, Tsang and Wang 2003): the (k, k) entry of
    H^n times n!/n^n, powered by squaring with the scale kept as a separate log."""
    k = math.ceil(n * d)
    h = k - n * d
    m = 2 * k - 1
    idx = np.arange(1, m + 1, dtype=np.float64)
    inv_fact = np.exp(-_lgamma(idx + 1))  # 1/j! for j = 1..m
    first = (1.0 - h**idx) * inv_fact
    corner = (1.0 - 2 * h**m + max(0.0, 2 * h - 1) ** m) / math.exp(math.lgamma(m + 1))
    first[-1] = corner
    rows, cols = np.indices((m, m))
    gap = rows - cols + 1  # H[i, j] = 1/(i-j+1)! on and below the superdiagonal
    matrix = np.where(gap >= 0, np.exp(-_lgamma(np.maximum(gap, 0).astype(np.float64) + 1)), 0.0)
    matrix[:, 0] = first
    matrix[-1, :] = first[::-1]
    result, log_scale = np.eye(m), 0.0
    power, power_log, left = matrix, 0.0, n
    while left:
        if left & 1:
            result = result @ power
            log_scale += power_log
            top = np.abs(result).max()
            result, log_scale = result / top, log_scale + math.log(top)
        left >>= 1
        if left:
            power = power @ power
            power_log *= 2
            top = np.abs(power).max()
            power, power_log = power / top, power_log + math.log(top)
    value = result[k - 1, k - 1]
    if value <= 0:
        return 0.0
    return math.exp(math.log(value) + log_scale + _log_factorial(n) - n * math.log(n))


def _pelz_good_cdf(n: int, x: float) -> float:
    """Pelz and Good's (1976) asymptotic series for P(D_n <= x), four terms in 1/sqrt(n)."""
    z = math.sqrt(n) * x
    z2 = z * z
    pi2 = math.pi**2
    if -pi2 / 8 / z2 < -745.0:
        return 0.0
    kmax = math.ceil(16 * z / math.pi)
    odd = (2 * np.arange(1, kmax + 1) - 1).astype(np.float64)
    o2 = odd**2
    w = np.exp(-o2 * pi2 / 8 / z2)  # the theta-series weights over odd integers
    c1 = -z2 + pi2 / 4 * o2
    c2 = (
        6 * z**6
        + 2 * z**4
        + (2 * z**4 - 5 * z2) * pi2 / 4 * o2
        + pi2**2 * (1 - 2 * z2) / 16 * o2**2
    )
    c3 = (
        -30 * z**6
        - 90 * z**8
        + pi2 * (135 * z**4 - 96 * z**6) / 4 * o2
        + pi2**2 * (-60 * z2 + 212 * z**4) / 16 * o2**2
        + pi2**3 * (5 - 30 * z2) / 64 * o2**3
    )
    root = math.sqrt(2 * math.pi)
    k0 = root / z * w.sum()
    k1 = root / (6 * z**4) * (c1 * w).sum()
    k2 = root / (72 * z**7) * (c2 * w).sum()
    k3 = root / (6480 * z**10) * (c3 * w).sum()
    ints = np.arange(1, kmax + 1, dtype=np.float64)
    wi = np.exp(-(ints**2) * pi2 / 2 / z2)
    k2 += pi2 * root / (-36 * z**3) * (ints**2 * wi).sum()
    k3 += pi2 * root / (216 * z**6) * ((3 * z2 - pi2 * ints**2) * ints**2 * wi).sum()
    return float(k0 + k1 / math.sqrt(n) + k2 / n + k3 / n**1.5)


def _counts(values: npt.ArrayLike, what: str) -> FloatArray:
    """Counts or shares as float64: finite and >= 0, else an explicit error."""
    array = np.asarray(values, dtype=np.float64)
    if array.size == 0:
        raise ValueError(f"{what}: no bins")
    if not np.isfinite(array).all() or (array < 0).any():
        raise ValueError(f"{what}: counts and shares must be finite and >= 0")
    return array


# -- chi-square, Z ------------------------------------------------------------------------


def chi_square(observed: Sequence[float], expected: Sequence[float]) -> tuple[float, float]:
    """Pearson's statistic and its p-value on ``len - 1`` degrees of freedom, as
    ``scipy.stats.chisquare``: a cell expected 0 but observed gives an infinite
    statistic (p = 0)."""
    obs = _counts(observed, "observed")
    exp = _counts(expected, "expected")
    with np.errstate(divide="ignore", invalid="ignore"):
        cells = np.where(obs == exp, 0.0, (obs - exp) ** 2 / exp)
    statistic = float(cells.sum())
    dof = len(obs) - 1
    if dof < 1:
        return statistic, float("nan")
    return statistic, chi2_sf(statistic, dof)


def chi2_sf(x: float, dof: int) -> float:
    """P(X >= x) for chi-square with ``dof`` degrees of freedom: Q(dof/2, x/2)."""
    if math.isinf(x):
        return 0.0
    if x <= 0:
        return 1.0
    return _upper_gamma_regularized(dof / 2.0, x / 2.0)


def _upper_gamma_regularized(a: float, x: float) -> float:
    log_front = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1.0:  # the series for P converges fast here
        term = total = 1.0 / a
        k = a
        while abs(term) > abs(total) * 1e-16:
            k += 1.0
            term *= x / k
            total += term
        return _clip(1.0 - total * math.exp(log_front))
    # Lentz's continued fraction for Q
    b = x + 1.0 - a
    c, dd = 1.0 / _TINY, 1.0 / b
    f = dd
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2.0
        dd = an * dd + b
        dd = _TINY if abs(dd) < _TINY else dd
        c = b + an / c
        c = _TINY if abs(c) < _TINY else c
        dd = 1.0 / dd
        step = dd * c
        f *= step
        if abs(step - 1.0) < 1e-16:
            break
    return _clip(math.exp(log_front) * f)


def two_proportion_z(k1: float, n1: float, k2: float, n2: float) -> tuple[float, float]:
    """Pooled two-proportion Z statistic and its two-sided p-value (``erfc``)."""
    p1, p2 = k1 / n1, k2 / n2
    pooled = (k1 + k2) / (n1 + n2)
    spread = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if spread <= 0:
        return 0.0, 1.0  # both samples constant on the same value
    z = (p1 - p2) / math.sqrt(spread)
    return z, math.erfc(abs(z) / math.sqrt(2.0))


# -- distances on shares ----------------------------------------------------------------


def jensen_shannon(p: npt.ArrayLike, q: npt.ArrayLike) -> float:
    """Jensen-Shannon distance (natural log), the square root of the divergence; both
    vectors are normalised to sum 1 first, as scipy does."""
    a, b = _counts(p, "p"), _counts(q, "q")
    if a.size != b.size or not a.any() or not b.any():
        raise ValueError("Jensen-Shannon needs two non-empty distributions over the same bins")
    a, b = a / a.sum(), b / b.sum()
    mid = (a + b) / 2
    div = 0.5 * (_kl(a, mid) + _kl(b, mid))
    return math.sqrt(max(div, 0.0))


def _kl(p: FloatArray, m: FloatArray) -> float:
    keep = p > 0
    return float(np.sum(p[keep] * np.log(p[keep] / m[keep])))


def fill_zero_shares(shares: npt.ArrayLike) -> FloatArray:
    """Evidently's fill for empty bins before PSI: zeros become the smallest non-zero
    share / 1e6 when that share is at most 1e-4, else 1e-4."""
    filled = _counts(shares, "shares").copy()
    positive = filled[filled > 0]
    if positive.size == 0:
        raise ValueError("PSI needs at least one non-empty bin")
    low = float(positive.min())
    filled[filled == 0] = low / 1e6 if low <= 1e-4 else 1e-4
    return filled


def psi(reference_shares: npt.ArrayLike, current_shares: npt.ArrayLike) -> float:
    """Population stability index over bins, zero shares filled as Evidently fills them."""
    ref = fill_zero_shares(reference_shares)
    cur = fill_zero_shares(current_shares)
    return float(np.sum((ref - cur) * np.log(ref / cur)))


def cohens_h(p1: float, p2: float) -> float:
    """Effect size of a difference between two proportions (arcsine transform)."""
    return abs(2 * math.asin(math.sqrt(p1)) - 2 * math.asin(math.sqrt(p2)))


def cramers_v(statistic: float, n: float, cells: int) -> float:
    """Effect size of a goodness-of-fit chi-square over ``cells`` categories."""
    if cells < 2 or n <= 0 or math.isinf(statistic):
        return 1.0 if math.isinf(statistic) else 0.0
    return min(1.0, math.sqrt(statistic / (n * (cells - 1))))


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (step-up, monotone, capped at 1)."""
    p = np.asarray(p_values, dtype=np.float64)
    if p.size == 0:
        return []
    order = np.argsort(p)
    ranked = p[order] * p.size / np.arange(1, p.size + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty_like(p)
    out[order] = np.minimum(adjusted, 1.0)
    return [float(v) for v in out]
