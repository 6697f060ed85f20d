from pathlib import Path

import pytest
from pydantic import ValidationError

from rag.config import Settings


def test_defaults_point_outside_the_clone_for_models(settings, tmp_path):
    assert Settings(_env_file=None).models_dir == Path.home() / ".cache" / "govreport-rag" / "models"
    assert settings.models_dir == tmp_path / "models"
    assert settings.host == "127.0.0.1"
    assert settings.port == 8000


def test_environment_overrides_with_prefix(monkeypatch, tmp_path):
    monkeypatch.setenv("RAG_MODELS_DIR", str(tmp_path / "m"))
    monkeypatch.setenv("RAG_THREADS", "4")
    monkeypatch.setenv("RAG_PORT", "9001")
    s = Settings(_env_file=None)
    assert s.models_dir == tmp_path / "m"
    assert s.threads == 4
    assert s.port == 9001


@pytest.mark.parametrize(("written", "read"), [
    ("proxy.example, intranet.example", ["proxy.example", "intranet.example"]),
    ('["proxy.example"]', ["proxy.example"]),
    ("", []),
])
def test_name_lists_are_read_from_the_environment_as_documented(monkeypatch, written, read):
    # pydantic-settings parses list settings as JSON: "a,b" stopped the program at start until NoDecode
    monkeypatch.setenv("RAG_ALLOWED_HOSTS", written)
    monkeypatch.setenv("RAG_ALLOWED_ORIGINS", written)
    s = Settings(_env_file=None)
    assert s.allowed_hosts == read and s.allowed_origins == read


def test_a_malformed_json_list_is_refused_with_the_setting_named(monkeypatch):
    monkeypatch.setenv("RAG_ALLOWED_HOSTS", '["unclosed"')
    with pytest.raises(ValidationError, match="allowed_hosts"):
        Settings(_env_file=None)


@pytest.mark.parametrize(
    ("field", "value"),
    [("port", 0), ("port", 70000), ("threads", 0), ("llm_context", 10), ("host", "  "), ("port", "abc"),
     ("chunk_max_chars", 10)],
)
def test_invalid_values_are_rejected(field, value):
    with pytest.raises(ValidationError) as exc:
        Settings(_env_file=None, **{field: value})
    assert field in str(exc.value)


def test_models_dir_must_differ_from_data_dir(tmp_path):
    with pytest.raises(ValidationError, match="different folders"):
        Settings(_env_file=None, models_dir=tmp_path, data_dir=tmp_path)


def test_model_paths_resolve_through_the_manifest(settings, tmp_path):
    assert settings.llm_model_path() == tmp_path / "models" / "qwen2.5-coder-0.5b-instruct.gguf"
    assert settings.embedding_model_path() == tmp_path / "models" / "embeddinggemma-300m"
    explicit = Settings(_env_file=None, llm_path=tmp_path / "big.gguf")
    assert explicit.llm_model_path() == tmp_path / "big.gguf"
