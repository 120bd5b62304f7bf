"""The statistics behind the report's verdicts: 95% intervals and the
three-way verdict.  Plain Python and numpy; scipy is used only by the test
(tests/pipeline/test_report.py), which checks the t quantile against it.

An Interval is an estimate with its two-sided 95% interval, the number of
units it rests on (seeds, pairs, examples, modules) and how it was made.
With too few units there is no interval (lo and hi are NaN) and a verdict
on it is INCONCLUSIVE.
"""
import math
from collections import namedtuple

import numpy as np

Interval = namedtuple("Interval", "est lo hi n how")

HOLDS, CONTRADICTED, INCONCLUSIVE = "HOLDS", "CONTRADICTED", "INCONCLUSIVE"
VERDICTS = (HOLDS, CONTRADICTED, INCONCLUSIVE)
LEVEL = 0.95
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 1


def _betacf(a, b, x):
    """The continued fraction of the incomplete beta function (modified
    Lentz), as in Numerical Recipes §6.4."""
    tiny, eps = 1e-300, 1e-15
    qab, qap, qam = a + b, a + 1, a - 1
    c, d = 1.0, 1 - qab * x / qap
    d = 1 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 1000):
        m2 = 2 * m
        for num in (m * (b - m) * x / ((qam + m2) * (a + m2)),
                    -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1 + num * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1) < eps:
            break
    return h


def betainc(a, b, x):
    """The regularised incomplete beta function I_x(a, b)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    lbeta = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    front = math.exp(lbeta + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1) / (a + b + 2):
        return front * _betacf(a, b, x) / a
    return 1 - front * _betacf(b, a, 1 - x) / b


def t_cdf(t, df):
    """P(T ≤ t) for Student's t with df degrees of freedom."""
    tail = 0.5 * betainc(df / 2, 0.5, df / (df + t * t))
    return 1 - tail if t >= 0 else tail


def t_quantile(p, df):
    """The p quantile of Student's t with df > 0 degrees of freedom (df
    need not be an integer: Welch's is not), by bisection on t_cdf."""
    if p == 0.5:
        return 0.0
    if p < 0.5:
        return -t_quantile(1 - p, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        lo, hi = hi, 2 * hi
    for _ in range(200):
        mid = (lo + hi) / 2
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12 * max(1.0, hi):
            break
    return (lo + hi) / 2


def none(est, n, how):
    """An estimate without an interval (too few units)."""
    return Interval(est, math.nan, math.nan, n, how)


def mean_interval(xs, how="t-interval over seeds"):
    """The mean of xs with its t-interval, n − 1 degrees of freedom."""
    xs = [float(x) for x in xs]
    n = len(xs)
    if n == 0:
        return none(math.nan, 0, how)
    m = sum(xs) / n
    if n < 2:
        return none(m, n, how)
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (n - 1))
    h = t_quantile(0.5 + LEVEL / 2, n - 1) * sd / math.sqrt(n)
    return Interval(m, m - h, m + h, n, how)


def paired(a, b, how="paired t-interval over seeds"):
    """mean(a[s] − b[s]) over the keys s (seeds) both dicts hold."""
    keys = sorted(set(a) & set(b))
    return mean_interval([a[k] - b[k] for k in keys], how)


def welch(xs, ys, how="Welch t-interval"):
    """mean(xs) − mean(ys) with Welch's interval (Welch–Satterthwaite
    degrees of freedom), for two independent samples."""
    xs, ys = [float(x) for x in xs], [float(y) for y in ys]
    nx, ny = len(xs), len(ys)
    if not nx or not ny:
        return none(math.nan, min(nx, ny), how)
    mx, my = sum(xs) / nx, sum(ys) / ny
    est = mx - my
    if nx < 2 or ny < 2:
        return none(est, min(nx, ny), how)
    vx = sum((x - mx) ** 2 for x in xs) / (nx - 1) / nx
    vy = sum((y - my) ** 2 for y in ys) / (ny - 1) / ny
    se = math.sqrt(vx + vy)
    if se == 0:
        return Interval(est, est, est, nx + ny, how)
    df = (vx + vy) ** 2 / (vx * vx / (nx - 1) + vy * vy / (ny - 1))
    h = t_quantile(0.5 + LEVEL / 2, df) * se
    return Interval(est, est - h, est + h, nx + ny, how)


def bootstrap(stat, columns, how="bootstrap over test examples",
              resamples=BOOTSTRAP_RESAMPLES, seed=BOOTSTRAP_SEED):
    """stat(columns) with the percentile interval of stat over resamples
    of the rows (examples): columns are equal-length numpy arrays, resampled
    together, so paired measures stay paired.  Seeded: the same data give
    the same interval."""
    columns = [np.asarray(c) for c in columns]
    n = len(columns[0]) if columns else 0
    if n == 0:
        return none(math.nan, 0, how)
    est = float(stat(*columns))
    if n < 2:
        return none(est, n, how)
    rng = np.random.default_rng(seed)
    draws = np.empty(resamples)
    for k in range(resamples):
        i = rng.integers(0, n, n)
        draws[k] = stat(*(c[i] for c in columns))
    draws = draws[~np.isnan(draws)]
    if len(draws) < resamples / 2:
        return none(est, n, how)
    a = (1 - LEVEL) / 2
    return Interval(est, float(np.quantile(draws, a)),
                    float(np.quantile(draws, 1 - a)), n, how)


def wilson(k, n, how="Wilson interval"):
    """The proportion k/n with Wilson's score interval."""
    if n == 0:
        return none(math.nan, 0, how)
    z = 1.959963984540054
    p = k / n
    c = (p + z * z / (2 * n)) / (1 + z * z / n)
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return Interval(p, 0.0 if k == 0 else c - h, 1.0 if k == n else c + h,
                    n, how)


def two_proportions(k1, n1, k2, n2, how="two-proportion interval"):
    """k1/n1 − k2/n2 with the normal (Wald) interval of two independent
    proportions; on the same test examples it is conservative, since the two
    are positively correlated."""
    if not n1 or not n2:
        return none(math.nan, 0, how)
    p1, p2 = k1 / n1, k2 / n2
    h = 1.959963984540054 * math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    return Interval(p1 - p2, p1 - p2 - h, p1 - p2 + h, min(n1, n2), how)


def verdict(iv, above=0.0, below=None):
    """The verdict on the claim "the effect is above ABOVE" (or, with
    below, "below BELOW"): HOLDS when the whole interval is on the claimed
    side, CONTRADICTED when it is all on the other side (touching the
    threshold counts as the other side), INCONCLUSIVE otherwise or without
    an interval."""
    if math.isnan(iv.lo) or math.isnan(iv.hi):
        return INCONCLUSIVE
    if below is None:
        if iv.lo > above:
            return HOLDS
        return CONTRADICTED if iv.hi <= above else INCONCLUSIVE
    if iv.hi < below:
        return HOLDS
    return CONTRADICTED if iv.lo >= below else INCONCLUSIVE


def all_of(verdicts):
    """A claim that every part must meet: it holds when all parts hold and
    is contradicted when any part is."""
    verdicts = list(verdicts)
    if verdicts and all(v == HOLDS for v in verdicts):
        return HOLDS
    return CONTRADICTED if CONTRADICTED in verdicts else INCONCLUSIVE


def any_of(verdicts):
    """A claim that some part must meet: it holds when any part holds and
    is contradicted when all parts are."""
    verdicts = list(verdicts)
    if HOLDS in verdicts:
        return HOLDS
    if verdicts and all(v == CONTRADICTED for v in verdicts):
        return CONTRADICTED
    return INCONCLUSIVE


def kendall_tau(xs, ys):
    """Kendall's τ-b of two equal-length sequences: (concordant −
    discordant) / sqrt((n0 − ties in x)(n0 − ties in y)), n0 = n(n−1)/2, a
    pair tied in x or in y counting as neither; NaN when either side is
    constant or there are fewer than two values.  O(n²), for the few dozen
    checkpoints of a series."""
    n = len(xs)
    if n != len(ys):
        raise ValueError("kendall_tau: %d against %d values" % (n, len(ys)))
    conc = disc = tx = ty = 0
    for i in range(n):
        for j in range(i + 1, n):
            dx, dy = xs[i] - xs[j], ys[i] - ys[j]
            if dx == 0 and dy == 0:
                tx, ty = tx + 1, ty + 1
            elif dx == 0:
                tx += 1
            elif dy == 0:
                ty += 1
            elif (dx > 0) == (dy > 0):
                conc += 1
            else:
                disc += 1
    n0 = n * (n - 1) // 2
    den = math.sqrt((n0 - tx) * (n0 - ty))
    return (conc - disc) / den if den > 0 else math.nan
