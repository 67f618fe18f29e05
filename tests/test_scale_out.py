"""Scale-out recipes on real engines: Dask and Ray clusters started by the tests.

Everything parallel in the library goes through joblib, so the user's code is
the same on one machine and on a cluster: only ``joblib.parallel_config``
changes. These tests check that the answers do not.
"""

import os

import numpy as np
import pytest
import soundfile as sf
from joblib import Parallel, delayed, parallel_config
from sklearn.metrics import log_loss, make_scorer
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_validate
from sklearn.naive_bayes import GaussianNB

from vascular_sklearn import RecordingClassifier, make_seed_pipeline
from vascular_sklearn.datasets import make_recordings
from vascular_sklearn.screening import predict_files, score_files

# two candidates that score differently, so that agreeing means something
GRID = {"lowpass__cutoff": [300.0, 1000.0]}


@pytest.fixture(scope="module")
def data():
    return make_recordings(
        n_patients=6, recordings_per_patient=2, duration=6.0, random_state=4
    )


def _pipeline():
    return make_seed_pipeline().set_params(classifier=RecordingClassifier(GaussianNB()))


# log-loss, not accuracy: a continuous score separates the candidates, so a
# backend that changed a model would show in the split scores
LOG_LOSS = make_scorer(
    log_loss, labels=[0, 1], response_method="predict_proba", greater_is_better=False
)


def _search(data):
    """The real network, seeded, in a grid search: what a new user would run."""
    network = make_seed_pipeline(max_epochs=1, random_state=0)
    search = GridSearchCV(
        network, GRID, cv=GroupKFold(2), scoring=LOG_LOSS, refit=False
    )
    return search.fit(data.recordings, data.target, groups=data.groups)


def _same_search(a, b):
    assert len(set(a.cv_results_["mean_test_score"])) == 2
    for key in a.cv_results_:
        if key.startswith(("split", "mean_test", "std_test", "rank", "param")):
            np.testing.assert_array_equal(a.cv_results_[key], b.cv_results_[key])


def _write_wavs(data, folder):
    """The recordings as 16-bit WAVs in ``folder``; their paths, in order."""
    paths = [str(folder / f"{i:02d}.wav") for i in range(len(data.target))]
    for path, x in zip(paths, data.recordings, strict=True):
        sf.write(path, x, 22050, subtype="PCM_16")
    return paths


@pytest.fixture(scope="module")
def dask_client():
    """A real LocalCluster: two worker processes, one thread each."""
    import distributed

    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def network_data():
    """Few, short recordings: each ResNet50 fit is one batch of cycles."""
    return make_recordings(
        n_patients=6, recordings_per_patient=2, duration=4.0, random_state=1
    )


@pytest.fixture(scope="module")
def sequential_search(network_data):
    return _search(network_data)


def test_seeded_network_search_is_the_same_on_loky(network_data, sequential_search):
    """Fresh worker processes repeat the search run here, whatever this
    process's random generators went through (repeating it in one process
    adds nothing: test_same_seed_same_model)."""
    from joblib.externals.loky import get_reusable_executor

    # fresh workers: those of earlier tests may be near loky's memory guard
    get_reusable_executor().shutdown(wait=True)
    with parallel_config(backend="loky", n_jobs=2):
        on_loky = _search(network_data)
    _same_search(sequential_search, on_loky)


def test_grid_search_under_dask_equals_sequential(
    data, network_data, dask_client, sequential_search
):
    from distributed import get_task_stream

    with get_task_stream(dask_client) as tasks, parallel_config(backend="dask"):
        on_dask = _search(network_data)
    assert len(tasks.data) > 0  # the candidates ran on the workers
    _same_search(sequential_search, on_dask)

    def scores():
        return cross_validate(
            _pipeline(),
            data.recordings,
            data.target,
            groups=data.groups,
            cv=GroupKFold(3),
            scoring=LOG_LOSS,
        )["test_score"]

    with parallel_config(backend="dask"):
        on_dask = scores()
    np.testing.assert_array_equal(on_dask, scores())


def test_grid_search_and_screening_under_ray_equal_sequential(
    network_data, sequential_search, data, tmp_path
):
    import ray
    from ray.util.joblib import register_ray

    model = _pipeline().fit(data.recordings, data.target)
    paths = _write_wavs(data, tmp_path)
    predict_files(model, paths, tmp_path / "local.csv", batch_size=4)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        register_ray()
        with parallel_config(backend="ray", n_jobs=2):
            on_ray = _search(network_data)
            # Ray's backend streams no results: screening takes them at the end
            predict_files(model, paths, tmp_path / "ray.csv", batch_size=4)
    finally:
        ray.shutdown()
    _same_search(sequential_search, on_ray)
    assert (tmp_path / "ray.csv").read_text() == (tmp_path / "local.csv").read_text()


def test_signal_chain_on_dask_workers_is_bit_identical(data, dask_client):
    from distributed import get_task_stream

    chain = make_seed_pipeline()[:-1]
    alone = chain.fit_transform(data.recordings)
    with get_task_stream(dask_client) as tasks, parallel_config(backend="dask"):
        spread = chain.fit_transform(data.recordings)
    assert len(tasks.data) > 0  # the recordings went to the workers
    np.testing.assert_array_equal(alone.offsets, spread.offsets)
    np.testing.assert_array_equal(alone.images, spread.images)


def test_dask_screens_a_corpus_with_client_map(data, dask_client, tmp_path):
    """The recipe: scatter the fitted model once, map batches of paths, gather."""
    model = _pipeline().fit(data.recordings, data.target)
    paths = _write_wavs(data, tmp_path)
    remote_model = dask_client.scatter(model, broadcast=True)
    batches = [paths[i : i + 5] for i in range(0, len(paths), 5)]
    futures = dask_client.map(score_files, [remote_model] * len(batches), batches)
    table = [row for rows in dask_client.gather(futures) for row in rows]
    predict_files(model, paths, tmp_path / "local.csv")
    import csv

    with open(tmp_path / "local.csv", newline="") as f:
        local = list(csv.DictReader(f))
    assert [r["path"] for r in table] == paths
    assert [r["probability_stenosis"] for r in table] == [
        r["probability_stenosis"] for r in local
    ]


def test_predict_files_under_dask_config_runs_on_the_workers(
    data, dask_client, tmp_path, monkeypatch
):
    model = _pipeline().fit(data.recordings, data.target)
    _write_wavs(data, tmp_path)
    # named relative to here, read by workers that run in another folder
    monkeypatch.chdir(tmp_path)
    paths = sorted(p.name for p in tmp_path.glob("*.wav"))
    predict_files(model, paths, "local.csv", batch_size=4)
    from distributed import get_task_stream

    dask_client.run(os.chdir, "/")
    try:
        with get_task_stream(dask_client) as tasks, parallel_config(backend="dask"):
            predict_files(model, paths, "dask.csv", batch_size=4)
    finally:
        dask_client.run(os.chdir, os.getcwd())
    assert len(tasks.data) >= len(paths) // 4  # the batches ran on the workers
    local = (tmp_path / "local.csv").read_text()
    assert (tmp_path / "dask.csv").read_text() == local
    assert "error" not in local and "\n00.wav," in local  # named as given


def _threads_while_fitting(_):
    """Fit a tiny network in a worker; report torch's and BLAS's thread counts."""
    import threadpoolctl
    import torch

    from vascular_sklearn import ResNetClassifier

    X = np.random.default_rng(0).random((8, 1, 16, 16), dtype=np.float32)
    ResNetClassifier(
        "resnet18", max_epochs=1, batch_size=4, device="cpu", random_state=0
    ).fit(X, np.array([0, 1] * 4))
    blas = [pool["num_threads"] for pool in threadpoolctl.threadpool_info()]
    return os.getpid(), torch.get_num_threads(), max(blas, default=1)


@pytest.mark.parametrize("backend", ["loky", "dask"])
def test_workers_do_not_oversubscribe_the_cores(backend, request):
    if backend == "dask":
        request.getfixturevalue("dask_client")
    cores = os.cpu_count()
    with parallel_config(backend=backend, n_jobs=2):
        found = Parallel()(delayed(_threads_while_fitting)(i) for i in range(2))
    assert all(pid != os.getpid() for pid, _, _ in found)
    for _, torch_threads, blas_threads in found:
        assert torch_threads * 2 <= max(cores, 2)
        assert blas_threads * 2 <= max(cores, 2)
