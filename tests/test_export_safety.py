"""Nothing is lost: overwrite protection, the atomic move, clear errors (TensorFlow only)."""

import keras
import pytest

import keras_rnnkit
from keras_rnnkit.export import export_saved_model
from keras_rnnkit.export import export_tflite
from tests import export_models

pytestmark = pytest.mark.tensorflow_only


def _tree(path):
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


@pytest.mark.slow
def test_refuses_an_existing_path_unless_overwrite(tmp_path):
    target = tmp_path / "model.tflite"
    target.write_text("keep me")
    with pytest.raises(FileExistsError, match="pass overwrite=True"):
        export_tflite(export_models.elman(), target, streaming=True)
    assert target.read_text() == "keep me"
    export_tflite(export_models.elman(), target, streaming=True, overwrite=True)
    assert target.read_bytes()[4:8] == b"TFL3"  # the flatbuffer identifier
    assert _tree(tmp_path) == ["model.tflite"]  # no staging folder left behind


@pytest.mark.parametrize("existing", [False, True], ids=["new_path", "overwrite"])
def test_failing_export_leaves_the_path_as_it_was(existing, tmp_path, monkeypatch):
    target = tmp_path / "saved_model"
    if existing:
        target.mkdir()
        (target / "old.txt").write_text("previous export")
    # ExportArchive() builds an instance of a format-specific subclass.
    archive_class = type(keras.export.ExportArchive())
    write_out = archive_class.write_out

    def write_then_fail(self, filepath, *args, **kwargs):
        write_out(self, filepath, *args, **kwargs)  # a complete SavedModel...
        raise OSError("disk full")  # ...then the export fails

    monkeypatch.setattr(archive_class, "write_out", write_then_fail)
    with pytest.raises(OSError, match="disk full"):
        export_saved_model(export_models.elman(), target, overwrite=True)
    assert _tree(tmp_path) == (["saved_model", "saved_model/old.txt"] if existing else [])
    if existing:
        assert (target / "old.txt").read_text() == "previous export"


def test_unbuilt_model_gets_a_clear_error(tmp_path):
    model = keras.Sequential([keras_rnnkit.ElmanRNN(3)])
    with pytest.raises(ValueError, match=r"never been built.*call it once on a batch|Call it once"):
        export_saved_model(model, tmp_path / "model")
    assert not (tmp_path / "model").exists()


def test_stateful_model_is_refused_with_the_alternative(tmp_path):
    model = keras.Sequential(
        [keras.Input(batch_shape=(2, None, 3)), keras_rnnkit.ElmanRNN(3, stateful=True)]
    )
    with pytest.raises(ValueError, match="stateful=True.*streaming=True"):
        export_saved_model(model, tmp_path / "model")


def test_bad_arguments(tmp_path):
    model = export_models.elman()
    with pytest.raises(ValueError, match="`batch_size` must be a positive integer"):
        export_tflite(model, tmp_path / "m.tflite", batch_size=0)
    with pytest.raises(ValueError, match="`time_steps` does not apply"):
        export_tflite(model, tmp_path / "m.tflite", streaming=True, time_steps=4)
    with pytest.raises(ValueError, match="`overwrite` must be True or False"):
        export_saved_model(model, tmp_path / "m", overwrite="yes")
    assert _tree(tmp_path) == []
