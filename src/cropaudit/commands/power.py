"""How many pairs a comparison needs to detect a bias Δ, and what a given n can detect.

A comparison tests p = 0.5 two-sided; Δ = p − 0.5. The number printed is the tuples (pairs)
needed per comparison (statsmodels NormalIndPower on Cohen's h). --design-effect inflates it
for image reuse (see design_effect in comparisons.csv); --n also prints the minimum
detectable Δ of n pairs.
"""

from __future__ import annotations

import argparse
import math

HELP = "pairs needed to detect a bias Δ (and the minimum detectable Δ of n pairs)"


def _fraction(low: float, high: float):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not low < value < high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}: {text!r}")
        return value

    return parse


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--delta", type=_fraction(0, 0.5), default=0.02,
                        help="bias to detect, Δ = p − 0.5 (default 0.02)")
    parser.add_argument("--alpha", type=_fraction(0, 1), default=0.05, help="two-sided level")
    parser.add_argument("--power", type=_fraction(0, 1), default=0.8, help="power (default 0.8)")
    parser.add_argument("--design-effect", type=_fraction(0, math.inf), default=1.0,
                        help="variance inflation from image reuse (default 1)")
    parser.add_argument("--n", type=int, help="also print the minimum detectable Δ of N pairs")


def run(args: argparse.Namespace) -> int:
    from cropaudit.errors import ConfigError
    from cropaudit.stats.power import min_detectable_delta, pairs_needed

    n = pairs_needed(args.delta, args.alpha, args.power, args.design_effect)
    print(
        f"pairs needed per comparison: {math.ceil(n)} "
        f"(Δ = {args.delta:g}, i.e. p = {0.5 + args.delta:g}; α = {args.alpha:g} two-sided; "
        f"power = {args.power:g}; design effect = {args.design_effect:g})"
    )
    if args.n is not None:
        if args.n < 2:
            raise ConfigError("--n must be at least 2")
        mdd = min_detectable_delta(args.n, args.alpha, args.power, args.design_effect)
        print(f"minimum detectable Δ with n = {args.n}: ±{mdd:.4f}")
    return 0
