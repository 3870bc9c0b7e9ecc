import numpy as np

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
