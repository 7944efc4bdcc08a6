"""The reference reuses per-thread work buffers (for speed); its results must not show it."""

from __future__ import annotations

import threading

import numpy as np

from reference import conv_transpose, formulations
from reference.api import compute
from reference.formulations import zero_insertion

# Pitched input (k3 s2: 7 -> 8 columns), several batch items, groups and bias.
PARAMS = dict(stride=2, padding=1, output_padding=1, groups=2)


def draw(seed: int, batch: int = 3, size: int = 7):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((batch, 4, size, size)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(6)


def expected(x, w, bias, **params):
    return compute(zero_insertion, x, w, bias, **params)


def test_a_result_is_not_overwritten_by_the_next_call():
    x1, w1, b1 = draw(1)
    x2, w2, b2 = draw(2)
    first = conv_transpose(x1, w1, b1, **PARAMS)
    kept = first.copy()
    second = conv_transpose(x2, w2, b2, **PARAMS)
    np.testing.assert_array_equal(first, kept)
    np.testing.assert_allclose(first, expected(x1, w1, b1, **PARAMS), rtol=0, atol=1e-12)
    np.testing.assert_allclose(second, expected(x2, w2, b2, **PARAMS), rtol=0, atol=1e-12)
    for buffer in formulations._work_buffers.by_role.values():
        assert not np.shares_memory(first, buffer) and not np.shares_memory(second, buffer)


def test_a_smaller_call_after_a_larger_one_sees_no_stale_values():
    x_large, w, bias = draw(3, batch=5, size=11)
    conv_transpose(1e6 * x_large, w, bias, **PARAMS)  # fills the buffers with large values
    x_small, _, _ = draw(4, batch=2, size=5)
    np.testing.assert_allclose(
        conv_transpose(x_small, w, bias, **PARAMS), expected(x_small, w, bias, **PARAMS), rtol=0, atol=1e-12
    )


def test_a_buffer_over_the_limit_is_not_kept(monkeypatch):
    monkeypatch.setattr(formulations, "_KEEP_BUFFER_BYTES", 0)
    kept_before = {role: buffer.size for role, buffer in formulations._work_buffers.by_role.items()}
    x, w, bias = draw(5, batch=4, size=40)
    np.testing.assert_allclose(conv_transpose(x, w, bias, **PARAMS), expected(x, w, bias, **PARAMS), atol=1e-12)
    kept_after = {role: buffer.size for role, buffer in formulations._work_buffers.by_role.items()}
    assert kept_after == kept_before


def test_concurrent_callers_get_their_own_results():
    # Shapes differ per thread so that a shared buffer would be resized and overwritten under another caller.
    cases = [draw(10 + i, batch=1 + i, size=6 + 3 * i) for i in range(4)]
    answers = [expected(x, w, bias, **PARAMS) for x, w, bias in cases]
    start = threading.Barrier(len(cases))
    failures = []

    def call_repeatedly(index: int) -> None:
        x, w, bias = cases[index]
        start.wait()
        for _ in range(200):
            result = conv_transpose(x, w, bias, **PARAMS)
            if not np.allclose(result, answers[index], rtol=0, atol=1e-12):
                failures.append(index)
                return

    threads = [threading.Thread(target=call_repeatedly, args=(i,)) for i in range(len(cases))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_processing_the_batch_one_item_at_a_time_changes_nothing(monkeypatch):
    rng = np.random.default_rng(6)
    cases = [
        (rng.standard_normal((3, 2, 9)), rng.standard_normal((2, 3, 4)), dict(stride=3, padding=((2, 1),), dilation=2)),
        (*draw(7)[:2], PARAMS),
        (rng.standard_normal((3, 2, 3, 4, 2)), rng.standard_normal((2, 2, 2, 3, 2)), dict(stride=(1, 2, 3))),
    ]
    whole = [conv_transpose(x, w, **params) for x, w, params in cases]
    monkeypatch.setattr(formulations, "_CHUNK_BYTES", 1)
    for (x, w, params), expected_result in zip(cases, whole):
        np.testing.assert_array_equal(conv_transpose(x, w, **params), expected_result)
