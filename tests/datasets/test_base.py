"""The batch sampler: shuffles from the seed, no repeats inside a shuffle, exact resume, and
next_batch's shuffled copy gives the same batches as gathering the rows."""
import numpy as np
import pytest

from paddle_gan.datasets import base
from paddle_gan.datasets.base import BatchSampler
from paddle_gan.errors import DataError

SAMPLES = np.arange(50 * 2, dtype=np.float32).reshape(50, 2)


def draw(sampler, count):
    return [sampler.next_indices().copy() for _ in range(count)]


def test_each_shuffle_hands_out_every_sample_at_most_once():
    sampler = BatchSampler(50, 8, seed=1)
    sampler.start_pass()
    first_shuffle = np.concatenate(draw(sampler, 6))  # 48 of 50
    assert len(set(first_shuffle.tolist())) == 48
    assert sampler.shuffle_id == 0
    sampler.next_indices()  # 2 left, 8 wanted: a new shuffle
    assert sampler.shuffle_id == 1 and sampler.position == 8


def test_shuffles_follow_from_the_seed():
    a, b, c = BatchSampler(50, 8, 1), BatchSampler(50, 8, 1), BatchSampler(50, 8, 2)
    for sampler in (a, b, c):
        sampler.start_pass()
    first = draw(a, 3)
    np.testing.assert_array_equal(first, draw(b, 3))
    assert not np.array_equal(first, draw(c, 3))


def test_state_dict_resumes_the_same_batches():
    sampler = BatchSampler(50, 8, seed=3)
    sampler.start_pass()
    draw(sampler, 4)
    saved = sampler.state_dict()
    expected = draw(sampler, 5)  # crosses into the next shuffle
    resumed = BatchSampler(50, 8, seed=3)
    resumed.load_state_dict(saved)
    np.testing.assert_array_equal(draw(resumed, 5), expected)


@pytest.mark.parametrize("copy_limit", [base.SHUFFLED_COPY_MAX_BYTES, 0], ids=["copy", "gather"])
def test_next_batch_is_the_rows_of_next_indices(monkeypatch, copy_limit):
    monkeypatch.setattr(base, "SHUFFLED_COPY_MAX_BYTES", copy_limit)
    by_index, by_batch = BatchSampler(50, 8, seed=4), BatchSampler(50, 8, seed=4)
    by_batch.start_pass()
    by_index.start_pass()
    for _ in range(14):  # two reshuffles
        np.testing.assert_array_equal(by_batch.next_batch(SAMPLES)[0],
                                      SAMPLES[by_index.next_indices()])
    resumed = BatchSampler(50, 8, seed=4)
    resumed.load_state_dict(by_batch.state_dict())
    np.testing.assert_array_equal(resumed.next_batch(SAMPLES)[0],
                                  SAMPLES[by_index.next_indices()])


def test_batch_larger_than_the_data_is_a_data_error():
    with pytest.raises(DataError, match="batch_size 64 is larger than the data set"):
        BatchSampler(50, 64, seed=0)
