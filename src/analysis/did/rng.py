"""R's default random number stream (``set.seed`` + Mersenne-Twister + inversion ``rnorm``).

HonestDiD's least-favorable critical values and FLCI folded-normal quantiles are Monte Carlo
quantities drawn with ``set.seed(0)``. Reproducing R's stream draw for draw removes that simulation
noise from comparisons with the published R numbers (the bounds are reported to 3 significant
figures, finer than the Monte Carlo error of 1,000 draws). numpy ships the same MT19937 core; only
R's seeding scramble and its two-uniform inversion for normals are re-implemented here
(R sources: src/main/RNG.c ``Randomize``/``FixupSeeds``/``MT_genrand``, src/nmath/snorm.c).
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

_N = 624
_I2_32M1 = 2.328306437080797e-10  # 1 / (2^32 - 1), R's fixup constant
_BIG = 134217728.0  # 2^27


class RRandom:
    """Stateful replica of R's RNG with ``RNGkind("Mersenne-Twister", "Inversion")``."""

    def __init__(self, seed: int = 0):
        s = int(seed) & 0xFFFFFFFF
        for _ in range(50):  # Randomize(): initial scrambling
            s = (69069 * s + 1) & 0xFFFFFFFF
        key = np.empty(_N + 1, dtype=np.uint32)
        for j in range(_N + 1):  # RNG_Init(): dummy[0] = mti, dummy[1:] = mt
            s = (69069 * s + 1) & 0xFFFFFFFF
            key[j] = s
        self._bitgen = np.random.MT19937()
        # FixupSeeds(initial=TRUE) sets mti = N, so the first draw regenerates the whole block.
        self._bitgen.state = {"bit_generator": "MT19937", "state": {"key": key[1:], "pos": _N}}

    def runif(self, n: int) -> np.ndarray:
        """Uniform(0, 1) draws exactly as R's ``runif(n)``."""
        u = self._bitgen.random_raw(int(n)).astype(np.float64) * 2.3283064365386963e-10
        u = np.where(u <= 0.0, 0.5 * _I2_32M1, u)
        return np.where(1.0 - u <= 0.0, 1.0 - 0.5 * _I2_32M1, u)

    def rnorm(self, n: int) -> np.ndarray:
        """Standard normal draws exactly as R's ``rnorm(n)`` (inversion with 2 uniforms each)."""
        u = self.runif(2 * int(n)).reshape(-1, 2)
        return ndtri((np.floor(_BIG * u[:, 0]) + u[:, 1]) / _BIG)

    def rmvnorm(self, n: int, sigma: np.ndarray) -> np.ndarray:
        """``mvtnorm::rmvnorm(n, sigma = sigma)`` with its default eigen square root (mean 0)."""
        sigma = np.asarray(sigma, dtype=float)
        vals, vecs = np.linalg.eigh(sigma)
        root = (vecs * np.sqrt(np.clip(vals, 0.0, None))) @ vecs.T  # symmetric: sign-free
        z = self.rnorm(n * sigma.shape[0]).reshape(n, sigma.shape[0])  # byrow = TRUE
        return z @ root.T
