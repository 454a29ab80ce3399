#!/usr/bin/env python3
"""Writes examples/svi/subsample.json: N = 20000 rows of a linear regression,
y = 1.5 + 2 x + Normal(0, 0.8) noise with x ~ Normal(0, 1), from a fixed seed
(Python's random module: the same file on every platform).  Rerun with
    python3 examples/svi/subsample_data.py > examples/svi/subsample.json
"""
import random

N = 20000
ALPHA, BETA, SIGMA = 1.5, 2.0, 0.8

rng = random.Random(20261126)
x = [rng.gauss(0.0, 1.0) for _ in range(N)]
y = [ALPHA + BETA * xi + rng.gauss(0.0, SIGMA) for xi in x]


def row(v):
    return ", ".join("%.5g" % t for t in v)


print('{\n  "N": %d,\n  "x": [%s],\n  "y": [%s]\n}' % (N, row(x), row(y)))
