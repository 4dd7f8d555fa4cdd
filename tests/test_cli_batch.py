"""The batch subcommands: describe, train-gpr, train-classifier, grid, classify — each one's
success path on small files, its --help, a bad input's exit status and one-line message."""

from __future__ import annotations

import json
import subprocess
import sys

import ase.io
import numpy as np
import pandas as pd
import pytest

import zifviz
from zifviz.cli import main
from zifviz.datasets import load_demo

SMALL_SOAP = ["--n-max", "4", "--l-max", "3"]


@pytest.fixture(scope="module")
def energy_files(tmp_path_factory):
    """Six hypothetical-ZIF frames (six frameworks, per-atom energies) in two files."""
    ds = load_demo("energies")
    info = ds.frames_info
    picks = info.drop_duplicates("framework").index[:6]
    frames = [ds[info.index.get_loc(i)] for i in picks]
    folder = tmp_path_factory.mktemp("energies")
    a, b = folder / "a.extxyz", folder / "b.extxyz"
    ase.io.write(a, frames[:3], format="extxyz")
    ase.io.write(b, frames[3:], format="extxyz")
    return [str(a), str(b)]


@pytest.fixture(scope="module")
def phase_file(tmp_path_factory):
    """Three phases, both sources, four frames each: 24 frames of the phases demo set."""
    ds = load_demo("phases")
    info = ds.frames_info
    frames = []
    for (phase, _), group in info.groupby(["phase", "source_set"], sort=False):
        if phase in ("ZIF-4", "ZIF-zni", "liquid"):
            frames += [ds[info.index.get_loc(i)] for i in group.index[:4]]
    path = tmp_path_factory.mktemp("phases") / "phases.extxyz"
    ase.io.write(path, frames, format="extxyz")
    return str(path)


def _one_line_error(capsys, *needles):
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert "error:" in err
    for needle in needles:
        assert needle in err, err
    return err


def test_describe_soap_matrix_and_aligned_table(energy_files, tmp_path, capsys):
    out = tmp_path / "X.npz"
    assert main(["describe", *energy_files, "--level", "AB2", "--r-cut", "6", "--sigma", "0.5",
                 *SMALL_SOAP, "--out", str(out), "-q"]) == 0
    assert "104 Zn environments" in capsys.readouterr().out
    with np.load(out, allow_pickle=False) as data:
        X, config = data["X"], json.loads(str(data["config"]))
    table = pd.read_csv(tmp_path / "X.csv")
    frames = list(zifviz.iread(energy_files[0])) + list(zifviz.iread(energy_files[1]))
    expected = zifviz.environment_table(frames)
    assert len(table) == len(X) == len(expected) == 104
    assert table["zn"].tolist() == expected["zn"].tolist()
    assert table["structure_id"].tolist() == expected["structure_id"].tolist()
    assert table["source_file"].tolist() == [energy_files[0]] * 64 + [energy_files[1]] * 40
    from zifviz.descriptors import SOAP

    soap = SOAP.seed000("AB2", 6.0, 0.5, n_max=4, l_max=3, progress=False)
    assert config["params"] == soap.config["params"]
    np.testing.assert_array_equal(X, soap.transform(frames))


def test_describe_bpsf_on_a_local_dask_cluster(energy_files, tmp_path, capsys):
    out = tmp_path / "bpsf.npz"
    assert main(["describe", energy_files[0], "--descriptor", "bpsf", "--out", str(out),
                 "--scheduler", "local:2", "-q"]) == 0
    assert "12 features" in capsys.readouterr().out
    from zifviz.descriptors import BPSF

    with np.load(out) as data:
        np.testing.assert_array_equal(data["X"],
                                      BPSF(progress=False).transform(zifviz.iread(energy_files[0])))


def test_describe_refuses_to_overwrite_and_bad_options(energy_files, tmp_path, capsys):
    out = tmp_path / "B.npz"
    argv = ["describe", energy_files[1], "--descriptor", "bpsf", "--out", str(out), "-q"]
    assert main(argv) == 0
    capsys.readouterr()
    assert main(argv) == 2
    _one_line_error(capsys, str(out), "--force")
    assert main(argv + ["--force"]) == 0
    capsys.readouterr()
    assert main(argv[:-1] + ["--sigma", "0.3", "--force"]) == 2
    _one_line_error(capsys, "--sigma")
    assert main(["describe", energy_files[1], "--preset", "seed003", "--r-cut", "5",
                 "--out", str(tmp_path / "s.npz")]) == 2
    _one_line_error(capsys, "seed003", "--r-cut")


@pytest.mark.parametrize("content", [None, "", "not a structure\n"])
def test_bad_files_exit_2_naming_the_file(tmp_path, capsys, content):
    bad = tmp_path / "bad.extxyz"
    if content is not None:
        bad.write_text(content)
    for argv in (["describe", str(bad), "--out", str(tmp_path / "X.npz")],
                 ["train-gpr", str(bad), "--model", str(tmp_path / "m")],
                 ["train-classifier", str(bad), "--model", str(tmp_path / "c")],
                 ["grid", str(bad), "--r-cut", "4", "--sigma", "0.5",
                  "--out", str(tmp_path / "g.csv")],
                 ["classify", str(bad), "--model", str(tmp_path / "c"),
                  "--out", str(tmp_path / "l.extxyz")]):
        assert main(argv) == 2, argv
        _one_line_error(capsys, str(bad))
    assert not list(tmp_path.glob("[Xmcgl]*"))


def test_train_gpr_cv_and_a_model_that_loads(energy_files, tmp_path, capsys):
    model = tmp_path / "gpr-A"
    assert main(["train-gpr", *energy_files, "--level", "A", "--r-cut", "6", "--sigma", "0.5",
                 *SMALL_SOAP, "--cv", "3", "--model", str(model), "-q"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("CV RMSE"))
    assert "3 folds grouped by framework" in line
    test_rmse = float(line.split("test ")[1].split()[0])
    from zifviz.descriptors import SOAP
    from zifviz.gpr import GPR
    from zifviz.validation import cross_validate

    frames = list(zifviz.iread(energy_files[0])) + list(zifviz.iread(energy_files[1]))
    soap = SOAP.seed000("A", 6.0, 0.5, n_max=4, l_max=3, progress=False)
    X = soap.transform(frames)
    table = zifviz.environment_table(frames)
    expected = cross_validate(X, table["eps_local"], table["framework"].astype(str), GPR(), 3)
    assert test_rmse == pytest.approx(expected.test_rmse, abs=1e-4)
    loaded = GPR.load(model.with_suffix(".json"), descriptor=soap)
    GPR().fit(X, table["eps_local"], descriptor=soap).save(tmp_path / "library")
    library = GPR.load(tmp_path / "library.json")  # (a save/load round trip moves these
    np.testing.assert_array_equal(loaded.predict(X), library.predict(X))  # by ~1e-4 eV)


def test_train_gpr_without_energies_exits_2(phase_file, tmp_path, capsys):
    frames = list(zifviz.iread(phase_file))[:2]
    for atoms in frames:
        atoms.arrays.pop("energies", None)
        atoms.info.pop("energy", None)
    bare = tmp_path / "bare.extxyz"
    ase.io.write(bare, frames, format="extxyz")
    assert main(["train-gpr", str(bare), "--level", "A", "--r-cut", "6", *SMALL_SOAP,
                 "--model", str(tmp_path / "m"), "-q"]) == 2
    _one_line_error(capsys, str(bare), "energies", "zifviz label")
    assert not (tmp_path / "m.json").exists()


def test_train_classifier_prints_split_accuracy_and_saves(phase_file, tmp_path, capsys):
    model = tmp_path / "phases"
    assert main(["train-classifier", phase_file, "--descriptor", "bpsf", "--level", "A",
                 "--epochs", "30", "--model", str(model), "-q"]) == 0
    out = capsys.readouterr().out
    accuracies = {line.split()[0]: float(line.split("accuracy ")[1].split()[0])
                  for line in out.splitlines() if " split: accuracy " in line}
    assert set(accuracies) == {"random", "block"}
    assert all(0 <= a <= 1 for a in accuracies.values())
    from zifviz.phases import PhaseClassifier

    loaded = PhaseClassifier.load(model)
    assert list(loaded.classes_) == ["ZIF-4", "ZIF-zni", "liquid"]
    assert loaded.descriptor.config["level"] == "A"
    frames = list(zifviz.iread(phase_file))
    predicted = loaded.predict(frames[:2])
    assert len(predicted) == sum(int((f.numbers == 30).sum()) for f in frames[:2])


def test_train_classifier_missing_label_exits_2(phase_file, tmp_path, capsys):
    assert main(["train-classifier", phase_file, "--label-key", "colour", "--model",
                 str(tmp_path / "c"), "-q"]) == 2
    _one_line_error(capsys, "colour", phase_file)


def test_grid_resumes_and_matches_the_library(energy_files, tmp_path, capsys):
    out = tmp_path / "grid.csv"
    argv = ["grid", *energy_files, "--level", "A", "--r-cut", "4,6", "--sigma", "0.5",
            *SMALL_SOAP, "--cv", "3", "--out", str(out), "-q"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "best A: r_cut" in printed
    first = pd.read_csv(out)
    assert len(first) == 2
    # a larger grid in the same file: the two finished points are kept, not recomputed
    assert main(argv[:6] + ["4,6,8"] + argv[7:]) == 0
    capsys.readouterr()
    second = pd.read_csv(out)
    assert len(second) == 3
    pd.testing.assert_frame_equal(second.iloc[:2], first)
    from zifviz.gpr import GPR
    from zifviz.gridsearch import grid_search

    frames = list(zifviz.iread(energy_files[0])) + list(zifviz.iread(energy_files[1]))
    library = grid_search(frames, "A", [4.0, 6.0, 8.0], [0.5], n_max=4, l_max=3, n_splits=3,
                          estimator=GPR(), progress=False)
    np.testing.assert_allclose(second["test_rmse"], library["test_rmse"], rtol=1e-9)


def test_grid_bad_list_is_a_usage_error(energy_files, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["grid", *energy_files, "--r-cut", "4,six", "--out", "g.csv"])
    assert exit_info.value.code == 2
    assert "--r-cut" in capsys.readouterr().err


def test_unreachable_scheduler_exits_2(energy_files, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("zifviz.cli_batch.CONNECT_TIMEOUT", "2s")
    assert main(["describe", energy_files[0], "--descriptor", "bpsf", "--out",
                 str(tmp_path / "X.npz"), "--scheduler", "tcp://127.0.0.1:1", "-q"]) == 2
    _one_line_error(capsys, "tcp://127.0.0.1:1", "Dask scheduler")


@pytest.mark.parametrize("command", ["describe", "train-gpr", "train-classifier", "grid",
                                     "classify"])
def test_help_reads_well(command, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "examples:" in text and f"zifviz {command}" in text
    for option in ("--scheduler", "--n-jobs", "--quiet", "--force"):
        assert option in text
    assert max(len(line) for line in text.splitlines()) <= 100


def test_main_help_documents_exit_codes():
    run = subprocess.run([sys.executable, "-m", "zifviz.cli", "--help"], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0
    text = run.stdout
    for command in ("describe", "train-gpr", "train-classifier", "grid", "classify", "label"):
        assert command in text
    assert "exit status" in text and "130" in text and "error: <file>: <problem>" in text


def test_progress_bars_quiet_when_stderr_is_not_a_terminal(energy_files, tmp_path):
    """Without -q, a run whose stderr is a pipe prints no progress bar."""
    run = subprocess.run([sys.executable, "-m", "zifviz.cli", "describe", energy_files[0],
                          "--descriptor", "bpsf", "--out", str(tmp_path / "X.npz")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "it/s" not in run.stderr and "%|" not in run.stderr
    assert run.stderr.strip().startswith("wrote")


@pytest.fixture(scope="module")
def phase_model(phase_file, tmp_path_factory):
    from zifviz.phases import PhaseClassifier

    model = PhaseClassifier.seed003("bpsf", "A", max_iter=30).fit(list(zifviz.iread(phase_file)))
    path = tmp_path_factory.mktemp("model") / "phases-bpsf"
    model.save(path)
    return path


def test_classify_writes_labelled_frames_and_fractions(phase_file, phase_model, tmp_path,
                                                       capsys):
    out, fractions, labels = (tmp_path / "labelled.extxyz", tmp_path / "fractions.csv",
                              tmp_path / "labels.csv")
    # the first four frames of the file are one ZIF-4 run (one structure)
    assert main(["classify", phase_file, "--stop", "4", "--model", str(phase_model),
                 "--out", str(out), "--fractions", str(fractions), "--labels", str(labels),
                 "-q", "--n-jobs", "2"]) == 0  # two local Dask workers
    assert "4 frames, 64 Zn environments classified" in capsys.readouterr().out
    from zifviz.phases import PhaseClassifier

    model = PhaseClassifier.load(phase_model)
    frames = list(zifviz.iread(phase_file))[:4]
    expected = model.predict(frames)
    table = pd.read_csv(labels)
    assert table["label"].tolist() == list(expected)
    written = list(zifviz.iread(out))
    assert len(written) == 4
    zn = [np.flatnonzero(f.numbers == 30) for f in written]
    assert np.concatenate([f.arrays["phase"][z] for f, z in zip(written, zn)]).tolist() \
        == list(expected)
    # non-Zn atoms: "" in memory, written as "-" (an extxyz string column cannot be empty)
    assert all(set(f.arrays["phase"][f.numbers != 30]) <= {"", "-"} for f in written)
    share = pd.read_csv(fractions)
    assert share["frame"].tolist() == [0, 1, 2, 3] and (share["n_zn"] == 16).all()
    columns = [c for c in share.columns if c.startswith("fraction_")]
    assert columns == [f"fraction_{c}" for c in model.classes_]
    np.testing.assert_allclose(share[columns].sum(axis=1), 1.0)
    assert {"a", "b", "c", "volume"} <= set(share.columns)


def test_classify_a_trajectory_of_many_structures_exits_2(phase_file, phase_model, tmp_path,
                                                          capsys):
    assert main(["classify", phase_file, "--model", str(phase_model), "--out",
                 str(tmp_path / "l.extxyz"), "-q"]) == 2
    _one_line_error(capsys, phase_file, "one structure")
    assert not (tmp_path / "l.extxyz").exists()


def test_grid_interrupted_keeps_points_and_continues(energy_files, tmp_path, capsys,
                                                     monkeypatch):
    import zifviz.gridsearch as gridsearch

    out = tmp_path / "grid.csv"
    argv = ["grid", *energy_files, "--level", "A", "--r-cut", "4,6", "--sigma", "0.5",
            *SMALL_SOAP, "--cv", "3", "--out", str(out), "-q"]
    real, calls = gridsearch._evaluate, []

    def interrupted(*args, **kwargs):  # Ctrl-C while the second point is computed
        calls.append(args[0])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(gridsearch, "_evaluate", interrupted)
    assert main(argv) == 130
    err = capsys.readouterr().err
    assert str(out) in err and "same command" in err
    assert len(pd.read_csv(out)) == 1
    calls.clear()
    monkeypatch.setattr(gridsearch, "_evaluate", lambda *a, **k: (calls.append(a[0]),
                                                                  real(*a, **k))[1])
    assert main(argv) == 0
    assert len(calls) == 1 and len(pd.read_csv(out)) == 2  # only the missing point computed
