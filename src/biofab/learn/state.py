"""Fitted surrogates as plain data: saved and loaded without pickle.

A surrogate that can be saved implements :class:`Stateful`: ``get_state()``
returns a :class:`SurrogateState` (hyper-parameters and fitted scalars as JSON
values, fitted numbers as NumPy arrays, opaque pieces such as XGBoost
boosters as bytes) and ``from_state(state)`` rebuilds an equivalent model
whose ``predict`` returns the same numbers.

:func:`dumps` writes one bytes payload: a compressed NumPy ``.npz`` archive
holding ``manifest.json`` (format, format version, biofab version, class
name, hyper-parameters, and the dtype and shape of every array) beside the
arrays and blobs. :func:`loads` reads it with ``np.load(allow_pickle=False)``
and :mod:`json` only, and rebuilds a class from a fixed allow-list, so a
doctored payload can fail to load but can never run code. Anything it cannot
read is refused with one line (:class:`SnapshotError`).

Snapshots in the campaign store carry a format label: :data:`STATE_FORMAT` for
this payload, :data:`LEGACY_PICKLE` for rows written by older biofab versions.
:func:`load_snapshot` refuses the latter unless the caller explicitly trusts
the database.
"""

from __future__ import annotations

import importlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Protocol, Self, runtime_checkable

import numpy as np

from biofab.core.errors import BiofabError
from biofab.learn.surrogate import Surrogate

#: The ``format`` field of every manifest this module writes.
FORMAT = "biofab.surrogate"
#: Newest manifest layout this module reads and the one it writes.
FORMAT_VERSION = 1
#: Store label of a :func:`dumps` payload.
STATE_FORMAT = "state-v1"
#: Store label of a snapshot pickled by biofab before the state format existed.
LEGACY_PICKLE = "pickle"
#: Largest payload :func:`loads` expands (bytes, all archive members together).
MAX_STATE_BYTES = 1 << 30

MANIFEST = "manifest.json"
_ARRAY = "array/"
_BLOB = "blob/"

# Class name in a manifest -> module that defines it. Only these are ever built.
_CLASSES: dict[str, str] = {
    "EpistaticGP": "biofab.learn.epistasis",
    "GPSurrogate": "biofab.learn.gp",
    "MLPEnsemble": "biofab.learn.mlp",
    "TreeEnsemble": "biofab.learn.trees",
}


class SnapshotError(BiofabError):
    """A saved model that cannot (or must not) be loaded."""


@dataclass(frozen=True)
class SurrogateState:
    """Everything needed to rebuild a fitted surrogate, in plain types.

    ``params``: the constructor's hyper-parameters (JSON values).
    ``fitted``: fitted scalars such as ``n_features_in_`` (JSON values).
    ``arrays``: fitted numbers (numeric or boolean NumPy arrays, e.g. a torch
    ``state_dict`` converted tensor by tensor). ``blobs``: opaque bytes read by
    a library's own loader (e.g. an XGBoost booster as JSON).
    """

    params: dict[str, Any]
    fitted: dict[str, Any]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)


@runtime_checkable
class Stateful(Protocol):
    """A surrogate that can be saved as a :class:`SurrogateState`."""

    def get_state(self) -> SurrogateState: ...

    @classmethod
    def from_state(cls, state: SurrogateState) -> Self: ...


def can_save(model: object) -> bool:
    """Whether :func:`dumps` can save ``model`` (its class is on the allow-list)."""
    return type(model).__name__ in _CLASSES and type(model).__module__ == _CLASSES.get(
        type(model).__name__
    )


def dumps(model: object) -> bytes:
    """One bytes payload (``.npz`` with a JSON manifest) holding a fitted ``model``."""
    if not can_save(model) or not isinstance(model, Stateful):
        raise TypeError(
            f"cannot save a {type(model).__name__}: saveable surrogates are {sorted(_CLASSES)}"
        )
    state = model.get_state()
    arrays = {k: np.ascontiguousarray(v) for k, v in state.arrays.items()}
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "biofab_version": _biofab_version(),
        "class": type(model).__name__,
        "params": state.params,
        "fitted": state.fitted,
        "arrays": {k: {"dtype": v.dtype.str, "shape": list(v.shape)} for k, v in arrays.items()},
        "blobs": {k: len(v) for k, v in state.blobs.items()},
    }
    members: dict[str, np.ndarray] = {MANIFEST: _bytes_array(json.dumps(manifest).encode())}
    members.update({_ARRAY + k: v for k, v in arrays.items()})
    members.update({_BLOB + k: _bytes_array(bytes(v)) for k, v in state.blobs.items()})
    buf = io.BytesIO()
    np.savez_compressed(buf, allow_pickle=False, **members)
    return buf.getvalue()


def loads(payload: bytes, *, what: str = "model state") -> Surrogate:
    """The surrogate saved by :func:`dumps`; :class:`SnapshotError` for anything else.

    ``what`` names the payload in error messages (e.g. ``"model snapshot 3"``).
    Reading uses ``np.load(allow_pickle=False)`` and :mod:`json` only, and the
    class comes from a fixed allow-list, so no payload can run code.
    """
    manifest, arrays, blobs = _read_archive(payload, what)
    fmt, version = manifest.get("format"), manifest.get("format_version")
    if fmt != FORMAT:
        raise SnapshotError(f"{what} is not a biofab surrogate (format {fmt!r})")
    if not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        raise SnapshotError(
            f"{what} has format version {version!r}; this biofab reads versions up to "
            f"{FORMAT_VERSION} (written by biofab {manifest.get('biofab_version')!r})"
        )
    name = manifest.get("class")
    if not isinstance(name, str) or name not in _CLASSES:
        raise SnapshotError(f"{what} holds an unknown model class {name!r}")
    params, fitted = manifest.get("params"), manifest.get("fitted")
    if not isinstance(params, dict) or not isinstance(fitted, dict):
        raise SnapshotError(f"{what} is damaged: manifest lacks params or fitted values")
    _check_declared(manifest, arrays, blobs, what)
    cls = getattr(importlib.import_module(_CLASSES[name]), name)
    try:
        model: Surrogate = cls.from_state(SurrogateState(params, fitted, arrays, blobs))
    except Exception as err:  # any failure to rebuild means the payload is damaged
        raise SnapshotError(f"{what} is damaged: {_first_line(err)}") from err
    return model


def load_snapshot(fmt: str, payload: bytes, *, what: str = "model snapshot") -> Surrogate:
    """Rebuild a stored model from its store ``fmt`` label and ``payload``.

    :data:`STATE_FORMAT` goes through :func:`loads`. :data:`LEGACY_PICKLE`
    (rows from older biofab versions) is always refused in one line: unpickling
    runs whatever the bytes say, and a snapshot is derived state that the
    campaign can refit from its stored measurements
    (:meth:`biofab.campaign.Campaign.current_model` does). Any other label is refused.
    """
    if fmt == STATE_FORMAT:
        return loads(payload, what=what)
    if fmt == LEGACY_PICKLE:
        raise SnapshotError(
            f"{what} was stored as a pickle by an older biofab; biofab never unpickles a "
            "stored model (it could run code); the campaign refits it from its measurements"
        )
    raise SnapshotError(
        f"{what} has an unknown storage format {fmt!r}; expected {STATE_FORMAT!r} (newer biofab?)"
    )


# --------------------------------------------------------------------- helpers


def _read_archive(
    payload: bytes, what: str
) -> tuple[dict[str, Any], dict[str, np.ndarray], dict[str, bytes]]:
    """Manifest, arrays and blobs of a payload; :class:`SnapshotError` if it is no archive."""
    data = bytes(payload)
    if not data.startswith(b"PK\x03\x04"):
        raise SnapshotError(f"{what} is not a biofab model state (not an .npz archive)")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            expanded = sum(info.file_size for info in zf.infolist())
        if expanded > MAX_STATE_BYTES:
            raise SnapshotError(f"{what} expands to {expanded} bytes, over {MAX_STATE_BYTES}")
        arrays: dict[str, np.ndarray] = {}
        blobs: dict[str, bytes] = {}
        manifest_bytes = None
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            for key in npz.files:
                value = npz[key]
                if key == MANIFEST:
                    manifest_bytes = value.tobytes()
                elif key.startswith(_ARRAY):
                    arrays[key[len(_ARRAY) :]] = value
                elif key.startswith(_BLOB):
                    blobs[key[len(_BLOB) :]] = value.tobytes()
                else:
                    raise SnapshotError(f"{what} is damaged: unexpected member {key!r}")
    except SnapshotError:
        raise
    except Exception as err:  # zipfile, npy header and object-array refusals alike
        raise SnapshotError(f"{what} is damaged: {_first_line(err)}") from err
    if manifest_bytes is None:
        raise SnapshotError(f"{what} is damaged: no {MANIFEST}")
    try:
        manifest = json.loads(manifest_bytes.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SnapshotError(f"{what} is damaged: unreadable {MANIFEST} ({err})") from err
    if not isinstance(manifest, dict):
        raise SnapshotError(f"{what} is damaged: {MANIFEST} is not an object")
    return manifest, arrays, blobs


def _check_declared(
    manifest: dict[str, Any], arrays: dict[str, np.ndarray], blobs: dict[str, bytes], what: str
) -> None:
    """The arrays and blobs are exactly those the manifest declares, with its dtypes and shapes."""
    declared, sizes = manifest.get("arrays"), manifest.get("blobs")
    if not isinstance(declared, dict) or not isinstance(sizes, dict):
        raise SnapshotError(f"{what} is damaged: manifest lacks the array and blob lists")
    if set(declared) != set(arrays) or set(sizes) != set(blobs):
        raise SnapshotError(f"{what} is damaged: arrays or blobs differ from its manifest")
    for key, arr in arrays.items():
        spec = declared[key]
        if not isinstance(spec, dict) or arr.dtype.kind not in "biuf":
            raise SnapshotError(f"{what} is damaged: array {key!r} is not numeric")
        if spec.get("dtype") != arr.dtype.str or spec.get("shape") != list(arr.shape):
            raise SnapshotError(
                f"{what} is damaged: array {key!r} is {arr.dtype.str} {list(arr.shape)}, "
                f"manifest says {spec.get('dtype')} {spec.get('shape')}"
            )
    for key, blob in blobs.items():
        if sizes[key] != len(blob):
            raise SnapshotError(f"{what} is damaged: blob {key!r} has {len(blob)} bytes")


def _bytes_array(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype=np.uint8)


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}".rstrip(": ")


def _biofab_version() -> str:
    try:
        return metadata.version("biofab")
    except metadata.PackageNotFoundError:
        return "unknown"
