import numpy as np
import pytest

from knowledge.fuse import Calibration, Signals, fit_calibration, linear_fusion, minmax, rrf


def test_minmax_scales_and_handles_constants():
    assert np.allclose(minmax(np.array([2.0, 4.0, 3.0])), [0.0, 1.0, 0.5])
    assert not minmax(np.array([5.0, 5.0])).any()


def test_linear_fusion_weights_each_side():
    sparse = np.array([10.0, 0.0, 5.0])
    dense = np.array([0.70, 0.90, 0.80])
    assert int(np.argmax(linear_fusion([(sparse, 1.0), (dense, 0.0)]))) == 0
    assert int(np.argmax(linear_fusion([(sparse, 0.0), (dense, 1.0)]))) == 1
    assert int(np.argmax(linear_fusion([(sparse, 0.5), (dense, 0.5)]))) == 2


def test_rrf_rewards_agreement():
    fused = rrf([[1, 2, 3], [3, 1, 2]])
    assert max(fused, key=fused.get) == 1


def _signals(dense, margin):
    return Signals(top_dense=dense, top_sparse=0.5, margin=margin, agree=1.0)


def test_calibration_learns_that_strong_rankings_are_right(tmp_path):
    good = [_signals(0.88 + i * 0.001, 0.4) for i in range(30)]
    bad = [_signals(0.78 + i * 0.001, 0.02) for i in range(30)]
    cal = fit_calibration(good + bad, [True] * 30 + [False] * 30)
    assert cal.confident(_signals(0.89, 0.4))
    assert not cal.confident(_signals(0.78, 0.01))
    path = tmp_path / "cal.json"
    cal.save(path)
    assert Calibration.load(path) == cal


def test_calibration_keeps_false_alarms_on_unanswerable_questions_down():
    """A few out-of-scope questions whose rankings look like good ones: precision alone would
    flag them all (60 right of 65); the false-alarm limit pushes the threshold above them."""
    good = [_signals(0.80 + i * 0.003, 0.4) for i in range(60)]
    bad = [_signals(0.70 + i * 0.001, 0.02) for i in range(30)]
    look_alike = [_signals(0.83 + i * 0.002, 0.4) for i in range(5)]
    signals = good + bad + look_alike
    correct = [True] * 60 + [False] * 35
    answerable = [True] * 90 + [False] * 5
    plain = fit_calibration(signals, correct, max_false_alarms=1.0)
    strict = fit_calibration(signals, correct, answerable=answerable)
    flagged = lambda cal: sum(cal.confident(s) for s in look_alike)  # noqa: E731
    assert flagged(plain) == 5 and flagged(strict) == 0
    assert strict.threshold > plain.threshold
    assert "0% of 5 out-of-scope flagged" in strict.fitted_on


def test_signals_carry_the_gate_and_each_signal_times_it():
    """The same margin means something else in a ranking made with the citizen weights."""
    statute = Signals(top_dense=0.9, top_sparse=2.0, margin=0.3, agree=1.0)
    citizen = Signals(top_dense=0.9, top_sparse=2.0, margin=0.3, agree=1.0, gate=0.5)
    assert statute.vector() == [0.9, 2.0, 0.3, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    assert citizen.vector() == pytest.approx([0.9, 2.0, 0.3, 1.0, 0.5, 0.45, 1.0, 0.15, 0.5])
