"""Spreads and the verdict rule shared by the scripts/bench-*.sh reports.

Every figure is printed with its spread: the median and min–max of repeated runs, or JMH's mean
and 99.9 % error. Two figures differ measurably only when their intervals do not overlap; when
they overlap, the comparison reads "no measurable difference", never a ratio or a percentage.
When they do not, the ratio of the centres is printed with the range the two intervals allow.

Imported by the scripts' inline Python (they put scripts/bench on sys.path).
"""
import json
import math
import statistics


def num(x, digits):
    """x with thousands separators and `digits` decimals."""
    return f"{x:,.{digits}f}"


class Figure:
    """A measured value: its centre and the interval [lo, hi] its spread allows. `n` is the number
    of runs for a median, None for a JMH mean (whose interval is its 99.9 % error)."""

    def __init__(self, center, lo, hi, n=None):
        self.center, self.lo, self.hi, self.n = center, lo, hi, n

    def scaled(self, factor):
        """The same figure in another unit."""
        return Figure(self.center * factor, self.lo * factor, self.hi * factor, self.n)

    def text(self, digits=1):
        if self.n is None:
            return f"{num(self.center, digits)} ± {num(self.hi - self.center, digits)}"
        return f"{num(self.center, digits)} ({num(self.lo, digits)}–{num(self.hi, digits)})"


def runs(values):
    """Repeated measurements: their median, with min–max as the interval."""
    values = sorted(values)
    if not values:
        raise ValueError("no measurements")
    return Figure(statistics.median(values), values[0], values[-1], len(values))


def jmh(metric):
    """A JMH primaryMetric: the mean and its 99.9 % confidence interval. With a single
    iteration JMH gives no error; the interval is then that one measurement."""
    score, err = metric["score"], metric["scoreError"]
    if not isinstance(err, (int, float)) or math.isnan(err):
        err = 0.0
    return Figure(score, score - err, score + err)


def overlap(a, b):
    return a.lo <= b.hi and b.lo <= a.hi


def sig(x):
    """A ratio with two significant digits at least (0.00021, 0.084, 1.12, 10.9, 2,166)."""
    if math.isinf(x):
        return "∞"
    if x == 0 or abs(x) >= 1:
        return num(x, 2 if abs(x) < 10 else 1 if abs(x) < 100 else 0)
    return num(x, 1 - math.floor(math.log10(abs(x))))


def ratio(a, b):
    """a / b by the verdict rule: "no measurable difference" when the intervals overlap, else the
    ratio of the centres with the range the two intervals allow."""
    if overlap(a, b):
        return "no measurable difference"
    lo = a.lo / b.hi if b.hi > 0 else math.inf
    hi = a.hi / b.lo if b.lo > 0 else math.inf
    return f"{sig(a.center / b.center)}× ({sig(lo)}–{sig(hi)})"


def goal(a, b, limit, what):
    """Whether a costs at most `limit` times b (lower is better), by the same rule."""
    if overlap(a, b):
        return f"{what}: no measurable difference from the baseline, so within {limit:.2f}×: met"
    r = a.center / b.center
    return f"{what}: {num(r, 2)}× the baseline (goal ≤ {limit:.2f}×): {'met' if r <= limit else 'NOT met'}"


def c_rounds(*outputs):
    """Parses the C baselines' output, lines of "name value value ...", pooling the values of
    every output given (e.g. one run before and one after the Java runs)."""
    pooled = {}
    for text in outputs:
        for line in text.strip().splitlines():
            name, *values = line.split()
            pooled.setdefault(name, []).extend(float(v) for v in values)
    return pooled


def jmh_results(path):
    """JMH's -rf json file as {"method" or "method[param=value,...]": primaryMetric}."""
    out = {}
    with open(path) as f:
        for r in json.load(f):
            name = r["benchmark"].rsplit(".", 1)[1]
            params = r.get("params")
            if params:
                name += "[" + ",".join(f"{k}={v}" for k, v in sorted(params.items())) + "]"
            out[name] = r["primaryMetric"]
    return out
