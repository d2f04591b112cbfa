"""Load and save COBRApy models: every COBRApy format, one-line errors, atomic writes.

A model is named by a path (SBML-FBC ``.xml``/``.sbml`` optionally gzipped,
``.json``, ``.mat``, ``.yml``/``.yaml``) or by the name of a model COBRApy ships
(``textbook``, ``iJO1366``, ``salmonella``, ``mini``). Loading never reaches the
network: a shipped model is read from COBRApy's own data folder.

Parsed models are cached (:func:`cache_dir`): reading SBML dominates a one-off
command on a genome-scale model (about 2.6 s for iJO1366), so the first load of a
file stores the parsed model in COBRApy's JSON form keyed by the SHA-256 of the file's
bytes (plus the COBRApy version and a cache format number), and later loads of the
same bytes read that instead (about 1.3 s). JSON, not pickle: reading a cache entry
never runs code, whoever wrote the folder. A changed file has another hash, so an entry
is never stale; an entry that cannot be read (truncated, not a model) is deleted and the
file parsed again. Set ``BIOFAB_CACHE`` to another folder, or to ``off`` to parse every
time.

Beside each JSON entry lies the model compiled for the solver (:mod:`.compiled`: sparse
``S``, bounds, objective, ids as one ``.npz`` read without pickle), written the first time
the model is loaded. :func:`load_compiled` finds it without importing COBRApy, which is how
``biofab gem fba`` answers a one-off command on a genome-scale model in a fraction of a
second (COBRApy's import alone takes longer).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from biofab.core.atomic import atomic_path
from biofab.core.errors import ModelError

if TYPE_CHECKING:
    import cobra

    from biofab.metabolism.compiled import CompiledModel

SHIPPED = {
    "textbook": "textbook.xml.gz",
    "e_coli_core": "textbook.xml.gz",
    "iJO1366": "iJO1366.xml.gz",
    "salmonella": "salmonella.xml.gz",
    "mini": "mini_cobra.xml",
}
_SBML = (".xml", ".sbml", ".xml.gz", ".sbml.gz")
CACHE_FORMAT = 2  # bump when what a cache entry holds changes
_log = logging.getLogger(__name__)
_FORMATS = (*_SBML, ".json", ".mat", ".yml", ".yaml")


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for s in sorted(_FORMATS, key=len, reverse=True):
        if name.endswith(s):
            return s
    return path.suffix.lower()


def load_model(source: str | os.PathLike[str]) -> cobra.Model:
    """A COBRApy model from a file or a shipped name; raises :class:`ModelError`.

    The model must have an objective (a metabolic engineer's first question is
    growth): a model without one is refused with the file named.
    """
    import cobra

    text = str(source)
    path = Path(text)
    if not path.exists():
        if text in SHIPPED:
            shipped = Path(cobra.__file__).parent / "data" / SHIPPED[text]
            suffix = ".xml.gz" if shipped.name.endswith(".gz") else ".xml"
            return _checked(_cached_read(shipped, suffix, text), text)
        if path.suffix or os.sep in text:
            raise ModelError("model file not found", file=text)
        raise ModelError(
            "unknown model name",
            file=text,
            expected=f"a file path or one of {', '.join(sorted(SHIPPED))}",
        )
    suffix = _suffix(path)
    if suffix not in _FORMATS:
        raise ModelError(
            "unknown model format", file=text, expected=" ".join(_FORMATS), found=path.suffix
        )
    return _checked(_cached_read(path, suffix, text), text)


def cache_dir() -> Path | None:
    """The folder of parsed models: ``$BIOFAB_CACHE`` (``off``: none), else
    ``$XDG_CACHE_HOME/biofab`` or ``~/.cache/biofab``."""
    env = os.environ.get("BIOFAB_CACHE")
    if env is not None and env.strip().lower() in ("off", "0", "no", "false", ""):
        return None
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "biofab"


def cache_entry(path: Path) -> Path | None:
    """Where the parsed model of the file ``path`` is (or would be) cached."""
    stem = _entry_stem(path)
    return None if stem is None else _json_path(stem)


def compiled_entry(path: Path) -> Path | None:
    """Where the compiled model (:mod:`.compiled`) of the file ``path`` is (or would be)."""
    stem = _entry_stem(path)
    return None if stem is None else _compiled_path(stem)


def _json_path(stem: Path) -> Path:
    return stem.with_name(f"{stem.name}-v{CACHE_FORMAT}.json")


def _compiled_path(stem: Path) -> Path:
    from biofab.metabolism.compiled import FORMAT

    return stem.with_name(f"{stem.name}-lp{FORMAT}.npz")


@functools.cache
def _cobra_version() -> str:
    """COBRApy's version from its metadata: the key never needs COBRApy imported."""
    from importlib.metadata import version

    return version("cobra")


def _entry_stem(path: Path) -> Path | None:
    """Cache entries of ``path`` without their suffix: file hash, format, COBRApy version."""
    root = cache_dir()
    if root is None:
        return None
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    name = f"{digest.hexdigest()}-{_suffix(path).lstrip('.')}-cobra{_cobra_version()}"
    return root / "models" / name


def _cached_read(path: Path, suffix: str, label: str) -> cobra.Model:
    """:func:`_read` through the cache (module docstring); the cache never fails a load."""
    from cobra.io import model_from_dict, model_to_dict

    try:
        stem = _entry_stem(path)
    except OSError:
        stem = None
    entry = None if stem is None else _json_path(stem)
    model = None
    if entry is not None and entry.is_file():
        try:
            with entry.open(encoding="utf-8") as fh:
                data = json.load(fh)
            if not isinstance(data, dict):
                raise TypeError(f"not a model: {type(data).__name__}")
            model = model_from_dict(data)
        except Exception as e:  # truncated, foreign or corrupt: parse the file again
            _log.warning("dropping unreadable model cache entry %s (%s)", entry, e)
            with contextlib.suppress(OSError):
                entry.unlink()
    if model is None:
        model = _read(path, suffix, label)
        if entry is not None:
            text = json.dumps(model_to_dict(model))
            _write_entry(entry, lambda fh: fh.write(text.encode("utf-8")))
    if stem is not None:
        _compile_once(_compiled_path(stem), model)
    return model


def _write_entry(entry: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write one cache entry atomically; a read-only or full disk costs speed, never a load."""
    try:
        entry.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with atomic_path(entry, suffix=entry.suffix) as tmp, tmp.open("wb") as fh:
            write(fh)
    except Exception as e:
        _log.info("model cache not written: %s", e)


def _compile_once(target: Path, model: cobra.Model) -> None:
    """Store ``model``'s compiled form at ``target`` (beside its JSON entry) unless there."""
    from biofab.metabolism.compiled import compile_model

    if target.is_file():
        return
    compiled = compile_model(model)
    if compiled is not None:
        _write_entry(target, compiled.save)


def load_compiled(source: str | os.PathLike[str]) -> CompiledModel | None:
    """The compiled model of ``source`` (a path or shipped name) from the cache, or None.

    None when the cache is off, the source does not name a readable model file, or no entry
    exists yet; an unreadable entry is deleted (the next :func:`load_model` writes it
    again). Imports neither COBRApy nor optlang.
    """
    from biofab.metabolism.compiled import CompiledModel

    path = _source_path(str(source))
    if path is None:
        return None
    try:
        entry = compiled_entry(path)
    except OSError:
        return None
    if entry is None or not entry.is_file():
        return None
    try:
        return CompiledModel.load(entry)
    except Exception as e:  # truncated, foreign or corrupt: the slow path re-reads the file
        _log.warning("dropping unreadable compiled model %s (%s)", entry, e)
        with contextlib.suppress(OSError):
            entry.unlink()
        return None


def _source_path(text: str) -> Path | None:
    """The model file :func:`load_model` would read for ``text``, found without COBRApy."""
    path = Path(text)
    if path.exists():
        return path if path.is_file() and _suffix(path) in _FORMATS else None
    if text not in SHIPPED:
        return None
    from importlib.util import find_spec

    spec = find_spec("cobra")  # locates the package without running it
    if spec is None or not spec.submodule_search_locations:
        return None
    shipped = Path(next(iter(spec.submodule_search_locations))) / "data" / SHIPPED[text]
    return shipped if shipped.is_file() else None


def _read(path: Path, suffix: str, label: str) -> cobra.Model:
    import cobra

    try:
        if suffix in _SBML:
            doc = _require_fbc(path, label)
            # The document is already parsed: hand it to COBRApy's converter instead of
            # reading the file a second time (its public reader only takes a file).
            from cobra.io import sbml as cobra_sbml

            convert = getattr(cobra_sbml, "_sbml_to_model", None)
            with _quiet_cobra():
                if convert is not None:
                    return convert(doc)
                return cobra.io.read_sbml_model(str(path))
        if suffix == ".json":
            return cobra.io.load_json_model(str(path))
        if suffix == ".mat":
            return cobra.io.load_matlab_model(str(path))
        return cobra.io.load_yaml_model(str(path))
    except ModelError:
        raise
    except Exception as e:  # every reader raises its own types; the user needs one line
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelError(f"cannot read model: {first}", file=label) from None


def _require_fbc(path: Path, label: str) -> Any:
    """The parsed SBML document; refused without the FBC package (flux bounds and
    objective COBRApy can trust)."""
    import libsbml

    doc = libsbml.readSBML(str(path))
    if doc.getNumErrors(libsbml.LIBSBML_SEV_FATAL) or doc.getModel() is None:
        raise ModelError("not a readable SBML document", file=label)
    if not doc.isPackageEnabled("fbc"):
        raise ModelError(
            "SBML without the FBC package (flux bounds and objective)",
            file=label,
            expected="SBML Level 3 with fbc",
            found=f"SBML Level {doc.getLevel()} without fbc",
        )
    return doc


@contextlib.contextmanager
def _quiet_cobra() -> Any:
    log = logging.getLogger("cobra")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def _checked(model: cobra.Model, label: str) -> cobra.Model:
    from cobra.util.solver import linear_reaction_coefficients

    if not linear_reaction_coefficients(model):
        raise ModelError(
            "model has no objective",
            file=label,
            expected="an objective reaction (e.g. biomass)",
            found="none",
        )
    return model


def save_model(model: cobra.Model, path: str | os.PathLike[str]) -> Path:
    """Write ``model`` in the format its suffix names; never leaves half a file.

    The model is written to a temporary file beside ``path`` and renamed over it,
    so a crash or a bad suffix leaves any earlier file untouched.
    """
    import cobra

    target = Path(path)
    suffix = _suffix(target)
    writers = {
        ".json": cobra.io.save_json_model,
        ".mat": cobra.io.save_matlab_model,
        ".yml": cobra.io.save_yaml_model,
        ".yaml": cobra.io.save_yaml_model,
    }
    if suffix not in _FORMATS:
        raise ModelError(
            "unknown model format", file=str(target), expected=" ".join(_FORMATS), found=suffix
        )
    with atomic_path(target, suffix=suffix) as tmp:
        if suffix in _SBML:
            cobra.io.write_sbml_model(model, str(tmp))
        else:
            writers[suffix](model, str(tmp))
    return target


def model_info(model: cobra.Model) -> dict[str, Any]:
    """Counts and objective, the summary ``biofab gem info`` prints."""
    from cobra.util.solver import linear_reaction_coefficients

    objective = {r.id: float(c) for r, c in linear_reaction_coefficients(model).items()}
    return {
        "id": model.id,
        "name": model.name or "",
        "reactions": len(model.reactions),
        "metabolites": len(model.metabolites),
        "genes": len(model.genes),
        "compartments": dict(sorted(model.compartments.items())),
        "exchanges": len(model.exchanges),
        "objective": objective,
        "objective_direction": model.objective_direction,
    }
