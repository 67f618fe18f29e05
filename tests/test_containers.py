"""Containers built by hand index like those the steps build, and the steps
treat every recording the same whatever its paths or n_jobs."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from sklearn.naive_bayes import GaussianNB

from vascular_sklearn import (
    CycleBags,
    LowpassFilter,
    RecordingClassifier,
    RecordingError,
    Signals,
    Spectrograms,
)
from vascular_sklearn.containers import object_array
from vascular_sklearn.corpus import RecordingFiles

RATE = 22050


def _wavs(folder: Path, n: int = 3) -> list[Path]:
    """``n`` short 16-bit WAVs of distinct tones."""
    paths = []
    for k in range(n):
        t = np.arange(RATE // 2) / RATE
        path = folder / f"{k}.wav"
        sf.write(path, 0.1 * np.sin(2 * np.pi * 50 * (k + 1) * t), RATE, "PCM_16")
        paths.append(path)
    return paths


def test_per_recording_fields_given_as_lists_move_with_a_subset():
    """A list is accepted where an array is documented: X[train] must take
    its entries by position as well, not fail with a TypeError."""
    picked = [2, 0]
    images = np.arange(6, dtype=np.float32).reshape(6, 1, 1, 1)
    spec = Spectrograms(images, [0, 1, 3, 6], bounds=[[1], [2], [3]])[picked]
    assert spec.images.ravel().tolist() == [3, 4, 5, 0]
    assert spec.n_cycles.tolist() == [3, 1] and spec.bounds.tolist() == [[3], [1]]

    signals = Signals(
        [np.full(4 + k, k, np.float32) for k in range(3)],
        2000.0,
        reference=[np.full(4 + k, k + 10.0) for k in range(3)],
        clipped=[np.array([k]) for k in range(3)],
        notes=["", "cut", "other"],
        rounding_snr_db=[40.0, 50.0, 60.0],
        source_rates=[8000, 4000, 2000],
    )
    part = signals[picked]
    assert [x[0] for x in part.reference] == [12.0, 10.0]
    assert [c.tolist() for c in part.clipped] == [[2], [0]]
    assert part.notes.tolist() == ["other", ""]
    assert part.rounding_snr_db.tolist() == [60.0, 40.0]
    assert part.source_rates.tolist() == [2000.0, 8000.0]

    bags = CycleBags(
        signals,
        [np.array([[0, 1 + k]]) for k in range(3)],
        [2, 3, 4],
        {"short": [0, 1, 2]},
        runs=[np.array([0]), np.array([0, 2]), np.array([0, 3])],
        pulse_db=[1.0, 2.0, 3.0],
    )[picked]
    assert [b.tolist() for b in bags.bounds] == [[[0, 3]], [[0, 1]]]
    assert bags.n_peaks.tolist() == [4, 2] and bags.pulse_db.tolist() == [3.0, 1.0]
    assert bags.dropped["short"].tolist() == [2, 0]
    assert [r.tolist() for r in bags.runs] == [[0, 3], [0]]

    files = RecordingFiles(["/a.wav", "/b.wav", "/c.wav"], 2000.0, stamps=[[1, 1]] * 3)
    assert files[[-1]].stamps.shape == (1, 2)


def test_an_index_of_recordings_is_one_index():
    signals = Signals.from_arrays(
        [np.full(3, k, np.float32) for k in range(4)], 2000.0, names=list("abcd")
    )
    # np.asarray((1, 2)) made it the recordings b and c
    for index in ((1, 2), (0, np.array([1, 2]))):
        with pytest.raises(IndexError, match="too many indices"):
            signals[index]
    assert signals[np.array(2)][0] == 2  # an int, as a 0-d array
    assert signals[[1], ...].names.tolist() == ["b"]  # as _safe_indexing asks
    with pytest.raises(IndexError):
        signals[True]  # not recording 1


def test_hand_made_containers_are_checked_where_they_are_made():
    signals = Signals.from_arrays([np.zeros(9, np.float32)], 1000.0)
    bounds = [np.array([[0, 3], [3, 6]])]
    # peaks not given: one before each cycle kept or dropped, and one after
    bags = CycleBags(signals, bounds, dropped={"short": [3]})
    row = bags.quality()[0]
    assert (row["peaks"], row["dropped_long_gap"]) == (6, 0)  # was 3 and -3
    # an unknown reason counted its cycles as long gaps
    with pytest.raises(ValueError, match=r"dropped\['clip'\]: not a reason"):
        CycleBags(signals, bounds, dropped={"clip": [1]})
    images = np.zeros((6, 1, 2, 2), np.float32)
    whole = Spectrograms(images, np.array([0.0, 1.0, 3.0, 6.0]))
    assert whole[1].shape == (2, 1, 2, 2)  # was "slice indices must be integers"
    for offsets in ([0.0, 1.5, 3.0, 6.0], [0.0, np.inf, 3.0, 6.0]):
        with pytest.raises(ValueError, match="offsets must be integers"):
            Spectrograms(images, np.array(offsets))


@pytest.mark.parametrize(
    "bounds, problem",
    [
        ([[0.0, 5.0]], "float64 values, not integer"),  # sliced with floats
        ([0, 5], r"shape \(2,\), not \(n_cycles, 2\)"),  # counted as 2 cycles
        ([[4, 12]], "outside the recording's 9 samples"),  # cut short, unsaid
        ([[-1, 3]], "outside the recording's 9 samples"),
        ([[5, 2]], "start is not before its stop"),
    ],
)
def test_hand_made_cycles_outside_their_recording_are_refused(bounds, problem):
    signals = Signals.from_arrays([np.zeros(9, np.float32)], 1000.0, names=["a.wav"])
    with pytest.raises(ValueError, match=rf"bounds of a\.wav: .*{problem}"):
        CycleBags(signals, [np.array(bounds)])
    CycleBags(signals, [np.array([[0, 9]])])  # the whole recording is a cycle


def test_hand_made_bounds_counts_and_offsets_are_kept_in_one_form():
    x = np.zeros(9, np.float32)
    signals = Signals.from_arrays([x, x.copy()], 1000.0)
    # [] and lists of pairs passed, then failed where the augmentation sliced
    bags = CycleBags(signals, [[[0, 3], [3, 6]], []])
    assert [(b.shape, b.dtype) for b in bags.bounds] == [
        ((2, 2), np.int64),
        ((0, 2), np.int64),
    ]
    # counts no cutting gives: quality() read -2 long gaps, or -1 dropped
    for counts, message in [
        ({"n_peaks": [0, 0]}, r"n_peaks of recording 0: 0 peaks cannot bound its 2"),
        ({"n_peaks": [3.5, 0]}, "n_peaks: float64 values, not counts"),
        ({"dropped": {"short": [-1, 0]}}, r"dropped\['short'\]: a negative count"),
    ]:
        with pytest.raises(ValueError, match=message):
            CycleBags(signals, [[[0, 3], [3, 6]], []], **counts)
    images = np.zeros((4, 1, 2, 2), np.float32)
    # uint64's diff wrapped, so falling offsets passed; rising ones failed later
    with pytest.raises(ValueError, match="offsets must be integers rising"):
        Spectrograms(images, np.array([0, 3, 1, 4], np.uint64))
    spec = Spectrograms(list(images), np.array([0, 1, 4], np.uint64))
    assert spec.offsets.dtype == np.int64 and spec[[1]].images.shape == (3, 1, 2, 2)
    # one 1-D array made as many one-sample recordings as it had samples
    with pytest.raises(RecordingError, match="one 1-D array of 9 samples"):
        Signals.from_arrays(x, 1000.0)


def test_containers_print_a_summary_not_their_samples():
    # typing bags in a notebook printed every array: 250 kB for 200 recordings
    signals = Signals.from_arrays(
        [np.zeros(22050, np.float32)] * 200, 22050, names=None
    )
    bags = CycleBags(signals, [np.array([[0, 11025], [11025, 22050]])] * 200)
    assert repr(signals) == "Signals(200 recordings at 22050 Hz, 200.0 s in all)"
    assert repr(bags) == "CycleBags(200 recordings at 22050 Hz, 400 cycles)"
    spec = Spectrograms(np.zeros((3, 1, 4, 5), np.float32), [0, 3], names=["a.wav"])
    assert repr(spec) == "Spectrograms(1 recordings, 3 images of 1 x 4 x 5, named)"


def test_a_per_recording_field_of_another_length_is_refused():
    """One reference short would describe a recording by another's."""
    data = [np.zeros(4, np.float32)] * 3
    with pytest.raises(ValueError, match="reference: 2 entries for 3 recordings"):
        Signals(data, 2000.0, reference=object_array(data[:2]))
    signals = Signals(data, 2000.0)
    with pytest.raises(ValueError, match="pulse_db: 4 entries for 3 recordings"):
        CycleBags(signals, object_array([np.zeros((0, 2))] * 3), pulse_db=np.ones(4))


def test_recording_files_of_path_objects_are_read_as_files(tmp_path):
    """RecordingFiles([Path]) indexes and loads: the filter must read it too."""
    paths = _wavs(tmp_path)
    as_paths = RecordingFiles(paths, RATE)
    as_text = RecordingFiles([str(p) for p in paths], RATE)
    step = LowpassFilter().fit(as_text)
    got, want = step.transform(as_paths[[2, 0]]), step.transform(as_text[[2, 0]])
    for a, b in zip(got.data, want.data, strict=True):
        np.testing.assert_array_equal(a, b)
    assert got.names.tolist() == [str(paths[2]), str(paths[0])]
    assert as_paths.paths.tolist() == as_text.paths.tolist()


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_a_cut_short_file_warns_whatever_n_jobs(tmp_path, n_jobs):
    """Read in a worker process, a file cut short still warns the caller."""
    paths = _wavs(tmp_path)
    raw = paths[1].read_bytes()
    paths[1].write_bytes(raw[: len(raw) // 2])  # an interrupted copy
    files = RecordingFiles.from_paths(paths)
    with pytest.warns(UserWarning, match=r"1\.wav: the file ends after"):
        out = LowpassFilter(n_jobs=n_jobs).fit_transform(files)
    assert [bool(note) for note in out.notes] == [False, True, False]


@pytest.mark.parametrize(
    "groups, shape",
    [
        ([["a", "x"], ["a", "x"], ["b", "y"], ["b", "y"]], r"\(4, 2\)"),
        ("abcd", r"\(\)"),
    ],
)
def test_groups_not_one_per_recording_are_named(groups, shape):
    rng = np.random.default_rng(0)
    bags = [rng.normal(size=(3, 2)) for _ in range(4)]
    with pytest.raises(ValueError, match=f"4 recordings but groups has shape {shape}"):
        RecordingClassifier(GaussianNB()).fit(bags, [0, 1, 0, 1], groups=groups)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("notes", "ab", "notes: a scalar for 2 recordings"),  # not ['a', 'b']
        ("notes", 5, "notes: a scalar for 2 recordings"),  # not 'int' not iterable
        ("reference", np.float64(1.0), "reference: a scalar"),
        ("rounding_snr_db", np.zeros((2, 3)), r"rounding_snr_db: shape \(2, 3\)"),
        ("source_rates", [[8000.0], [8000.0]], r"source_rates: shape \(2, 1\)"),
    ],
)
def test_signals_fields_not_one_entry_per_recording_are_named(field, value, message):
    data = [np.zeros(4, np.float32)] * 2
    with pytest.raises(ValueError, match=message):
        Signals(data, 2000.0, **{field: value})


def test_cycle_bags_numbers_per_recording_are_one_column():
    signals = Signals([np.zeros(4, np.float32)] * 2, 2000.0)
    bounds = [np.zeros((0, 2), np.int64)] * 2
    with pytest.raises(ValueError, match=r"pulse_db: shape \(2, 2\)"):
        CycleBags(signals, bounds, pulse_db=np.ones((2, 2)))
    # what the steps build still passes
    bags = CycleBags(signals, bounds, [1, 1], runs=[np.array([0])] * 2)
    assert bags[[1]].n_peaks.tolist() == [1]


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_load_warns_of_a_cut_short_file_whatever_n_jobs(tmp_path, n_jobs):
    # the steps that do not read files themselves get them through load
    paths = _wavs(tmp_path)
    raw = paths[1].read_bytes()
    paths[1].write_bytes(raw[: len(raw) // 2])
    with pytest.warns(UserWarning, match=r"1\.wav: the file ends after"):
        signals = RecordingFiles.from_paths(paths).load(n_jobs=n_jobs)
    # the part present is returned, the other files whole
    assert [len(x) for x in signals.data] == [
        RATE // 2,
        len(signals.data[1]),
        RATE // 2,
    ]
    assert 0 < len(signals.data[1]) < RATE // 2
