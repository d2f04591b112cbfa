"""Reading a person's text file: its text, or one line saying why it is not text.

A space YAML saved by a word processor, a plate-reader export in a Windows code
page, or a PNG passed by mistake must never end in a ``UnicodeDecodeError``
traceback. Files are UTF-8 (a byte-order mark is allowed); UTF-16 with its
byte-order mark is read too; anything holding NUL bytes is called binary.
"""

from __future__ import annotations

import codecs
import os
from pathlib import Path

from biofab.core.errors import InputError

_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def decode_text(raw: bytes, file: str, *, fallback: str | None = None) -> str:
    """``raw`` bytes of ``file`` -> text.

    ``fallback``: a single-byte codec (e.g. ``"latin-1"``) for instrument
    exports that are not UTF-8; without it, non-UTF-8 bytes are an
    :class:`InputError` naming the first bad byte and its offset.
    """
    if raw.startswith(_UTF16_BOMS):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            raise InputError("broken UTF-16 text", file=file, expected="a text file") from None
    if b"\x00" in raw:
        raise InputError("binary file, not text", file=file, expected="a UTF-8 text file")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        if fallback is not None:
            return raw.decode(fallback)
        raise InputError(
            f"not UTF-8 text (byte 0x{raw[err.start]:02x} at offset {err.start})",
            file=file,
            expected="a UTF-8 text file",
        ) from None


def read_text(path: str | os.PathLike[str], *, fallback: str | None = None) -> str:
    """The text of the file at ``path`` (see :func:`decode_text`)."""
    p = Path(path)
    return decode_text(p.read_bytes(), str(p), fallback=fallback)
