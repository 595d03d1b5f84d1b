#!/usr/bin/python3
"""Prints bench/scaling.sh's tables and how each measurement grows with its size.

Usage: growth.py ROWS.tsv

Each row (tab-separated): family, unit, series, size, size label, runs, median ms, min ms,
max ms, peak RSS KiB, note, CPU ms (user + system, mean per run). Rows of a family print as
one table, in file order; then, per series, each step between consecutive sizes:
  - the size factor and the time factor of the medians, with the growth exponent
    log(time factor) / log(size factor): 1 is linear, below 0.9 sub-linear, above 1.1
    super-linear;
  - the same for CPU time, which other processes on a busy machine disturb much less than
    wall time: when the two disagree (another class, exponents more than 0.1 apart) the
    line says so, and CPU is the one to believe;
  - the RSS factor;
  - the marginal cost per unit, (t2 - t1) / (n2 - n1) on the medians: one that rises from
    one step to the next shows super-linear work even while the fixed cost (process start,
    loading) keeps the exponent under 1.
"""
import math
import sys


def number(text):
    try:
        return float(text)
    except ValueError:
        return None


def ms(value):
    return "-" if value is None else f"{value:.1f}"


def mib(kib):
    return "-" if kib is None else f"{kib / 1024:.1f}"


def per_unit(value_ms):
    if abs(value_ms) >= 1:
        return f"{value_ms:.2f} ms"
    if abs(value_ms) >= 0.001:
        return f"{value_ms * 1000:.1f} µs"
    return f"{value_ms * 1e6:.0f} ns"


def kind(exponent):
    if exponent < 0.9:
        return "sub-linear"
    if exponent <= 1.1:
        return "linear"
    return "SUPER-LINEAR"


def exponent(factor, size_factor):
    return math.log(factor) / math.log(size_factor) if factor > 0 else 0.0


def read(path):
    families = {}
    with open(path) as handle:
        for line in handle:
            cells = line.rstrip("\n").split("\t")
            if len(cells) < 12:
                continue
            family, unit, series, size, label, runs, median, low, high, rss, note, cpu = cells[:12]
            families.setdefault(family, []).append({
                "unit": unit, "series": series, "size": int(size), "label": label, "runs": runs,
                "median": number(median), "min": number(low), "max": number(high),
                "rss": number(rss), "note": note, "cpu": number(cpu),
            })
    return families


def table(rows):
    has_series = any(row["series"] for row in rows)
    head = f"  {'size':>8}  " + (f"{'command':<20}  " if has_series else "")
    print(head + f"{'runs':>4}  {'median ms':>9}  {'min ms':>8}  {'max ms':>8}  {'CPU ms':>8}  "
          f"{'peak RSS MiB':>12}  note")
    for row in rows:
        text = f"  {row['label']:>8}  " + (f"{row['series']:<20}  " if has_series else "")
        text += (f"{row['runs']:>4}  {ms(row['median']):>9}  {ms(row['min']):>8}  {ms(row['max']):>8}  "
                 f"{ms(row['cpu']):>8}  {mib(row['rss']):>12}  {row['note']}")
        print(text.rstrip())


def growth(rows):
    print("  growth:")
    by_series = {}
    for row in rows:
        by_series.setdefault(row["series"], []).append(row)
    for series, items in by_series.items():
        previous_marginal = None
        for first, second in zip(items, items[1:]):
            prefix = f"    {series + ': ' if series else ''}{first['label']}→{second['label']}: "
            if not first["median"] or not second["median"]:
                print(prefix + "not measured")
                continue
            size_factor = second["size"] / first["size"]
            time_factor = second["median"] / first["median"]
            wall = exponent(time_factor, size_factor)
            text = f"{size_factor:g}× {first['unit']}, {time_factor:.2f}× time: {kind(wall)} (exponent {wall:.2f})"
            if first["cpu"] and second["cpu"]:
                cpu_factor = second["cpu"] / first["cpu"]
                cpu = exponent(cpu_factor, size_factor)
                text += f"; CPU {cpu_factor:.2f}×"
                if kind(cpu) != kind(wall) and abs(cpu - wall) > 0.1:
                    text += f" ({kind(cpu)}, exponent {cpu:.2f}: wall time disturbed)"
            if first["rss"] and second["rss"]:
                text += f"; RSS {second['rss'] / first['rss']:.2f}×"
            marginal = (second["median"] - first["median"]) / (second["size"] - first["size"])
            text += f"; marginal {per_unit(marginal)}/{first['unit'].rstrip('s')}"
            if previous_marginal and previous_marginal > 0 and marginal > 0:
                text += f" ({marginal / previous_marginal:.2f}× the step before)"
            previous_marginal = marginal
            print(prefix + text)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    for family, rows in read(sys.argv[1]).items():
        print()
        print(family)
        table(rows)
        growth(rows)


if __name__ == "__main__":
    main()
