"""How the cores of the machine are shared out among the hosts of one training job."""

import pytest

from local_aws.sagemaker.host_resources import host_variables, report_cpus, share_cores


def test_hosts_get_disjoint_contiguous_sets_that_cover_the_cores():
    assert share_cores(["algo-1", "algo-2"], [0, 1, 2, 3, 4]) == {"algo-1": [0, 1, 2], "algo-2": [3, 4]}


def test_hosts_beyond_the_cores_share_one_core_each_round_robin():
    assert share_cores(["a", "b", "c"], [4, 5]) == {"a": [4], "b": [5], "c": [4]}


def test_no_cores_is_an_error():
    with pytest.raises(ValueError, match="no CPUs to share"):
        share_cores(["a"], [])


def test_a_share_sizes_the_threads():
    assert host_variables([2, 3]) == {"PAWFLOW_HOST_CPUS": "2,3", "OMP_NUM_THREADS": "2"}


def test_the_toolkit_count_of_cpus_is_corrected_everywhere_it_appears():
    env = {"SM_NUM_CPUS": "8", "SM_TRAINING_ENV": '{"num_cpus": 8, "hosts": ["algo-1"]}'}
    report_cpus(env, 1)
    assert env == {"SM_NUM_CPUS": "1", "SM_TRAINING_ENV": '{"num_cpus": 1, "hosts": ["algo-1"]}'}
