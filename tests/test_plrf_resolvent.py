"""The per-W Volterra loss from poles and residues (generators/plrf/resolvent.py) against independent references."""

from __future__ import annotations

import numpy as np
import pytest

from generators import plrf
from generators.plrf import PLRFParams, resolvent, volterra


def _direct(params, seed, n):
    """P(r), r < n, by the O(n^2) recursion P(r) = F(r) + sum_{s<r} K(r-1-s) P(s), F and K summed exactly."""
    spec = plrf.spectrum(params, seed)
    lr, bsz = params.lr, params.batch
    x = spec.lam[spec.lam > 0]
    w = np.where(spec.reliable, spec.weights, 0.0)[spec.lam > 0]
    a = 1 - 2 * lr * bsz * x + lr**2 * bsz * (bsz + 1) * x**2
    powers = a[None, :] ** np.arange(n)[:, None]
    f = spec.p_frozen + powers @ w
    k = powers @ (lr**2 * bsz * x**2)
    p = np.empty(n)
    p[0] = f[0]
    for r in range(1, n):
        p[r] = f[r] + k[r - 1 :: -1] @ p[:r]
    return p, f


@pytest.mark.parametrize(("alpha", "beta", "d", "batch"), [(0.7, 0.7, 40, 1), (2.0, 1.0, 40, 1), (1.0, 0.75, 30, 3)])
def test_resolvent_matches_direct_recursion(alpha, beta, d, batch):
    p = PLRFParams(alpha, beta, d, batch=batch)
    ref, ref_f = _direct(p, 2, 1500)
    steps = np.array([0, 1, 2, 7, 50, 333, 1000, 1499])
    t = volterra(p, steps, seed=2)
    assert t.provenance["solver"]["method"] == "volterra-eigen-resolvent"
    np.testing.assert_allclose(t.channel("loss"), ref[steps], rtol=1e-11)
    np.testing.assert_allclose(t.channel("forcing"), ref_f[steps], rtol=1e-11)
    np.testing.assert_allclose(t.channel("forcing") + t.channel("kernel_term"), t.channel("loss"), rtol=1e-13)


def test_resolvent_agrees_with_the_fft_route_over_a_million_steps(monkeypatch):
    p = PLRFParams(0.7, 0.7, 200)
    steps = np.unique(np.round(np.geomspace(1, 1e6, 60)))
    new = volterra(p, steps, seed=0)
    monkeypatch.setattr(resolvent, "poles", lambda params, spec: None)  # the fallback: FFT + Picard
    old = volterra(p, steps, seed=0)
    assert old.provenance["solver"]["method"] == "volterra-eigen-picard-fft"
    assert new.provenance["solver"]["method"] == "volterra-eigen-resolvent"
    np.testing.assert_allclose(new.channel("loss"), old.channel("loss"), rtol=1e-9)


def test_poles_interlace_and_limit():
    p = PLRFParams(0.7, 0.7, 50)
    spec = plrf.spectrum(p, 1)
    out = resolvent.poles(p, spec)
    s, t = np.sort(out["s"]), np.sort(out["t"])
    # one pole rate in each gap between consecutive mode rates, one below the smallest (the slowest mode)
    assert s.shape == t.shape and np.all(np.diff(s) > 0)
    assert 0 < s[0] < t[0] and np.all((s[1:] > t[:-1]) & (s[1:] < t[1:]))
    assert out["constant"] == pytest.approx(spec.p_frozen / (1 - plrf.kernel_norm(p, spec)), rel=1e-12)
    # residues sum to P(0) - P(inf): P(0) = p0
    assert out["constant"] + out["residues"].sum() == pytest.approx(spec.p0, rel=1e-12)


def test_same_seed_same_bits_and_many_steps_use_the_fft_route():
    p = PLRFParams(0.6, 0.9, 40)
    steps = np.arange(0, 3000, 7)
    a = volterra(p, steps, seed=5).values
    plrf._SPECTRUM_CACHE.clear()
    b = volterra(p, steps, seed=5).values
    assert a.tobytes() == b.tobytes()
    # every step of a long run: len(steps) * d exceeds the budget, the O(R log R) route is used
    dense = volterra(p, np.arange(0, 600_000), seed=5)
    assert dense.provenance["solver"]["method"] == "volterra-eigen-picard-fft"
    np.testing.assert_allclose(dense.channel("loss")[steps], a[:, 0], rtol=1e-9)


def test_deterministic_equivalent_resolvent_agrees_with_the_fft_route(monkeypatch):
    p = PLRFParams(1.0, 0.75, 100)
    steps = np.unique(np.round(np.geomspace(1, 1e5, 40)))
    new = volterra(p, steps, seed=None)
    assert new.provenance["solver"]["method"] == "volterra-deterministic-equivalent-resolvent"
    monkeypatch.setattr(resolvent, "poles_of_measure", lambda *args: None)
    old = volterra(p, steps, seed=None)
    assert old.provenance["solver"]["method"] == "volterra-deterministic-equivalent-picard-fft"
    np.testing.assert_allclose(new.channel("loss"), old.channel("loss"), rtol=1e-9)
    np.testing.assert_allclose(new.channel("forcing"), old.channel("forcing"), rtol=1e-9)
