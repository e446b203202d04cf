"""Read an answer's body with its decoded size bounded while it is decoded, not after.

httpx decodes each network read whole before anyone can look at it, so a 64 KiB gzip read can
become 64 MiB in memory before a cap on ``iter_bytes()`` notices. The plugin therefore asks for
``gzip, deflate`` only, reads the raw bytes, and lets zlib decompress them with a limit on each
step's output (``max_length``): memory stays within the cap whatever the server sends.
"""

from __future__ import annotations

import zlib

__all__ = ["ACCEPT_ENCODING", "BodyError", "BoundedBody"]

ACCEPT_ENCODING = "gzip, deflate"
"""The encodings requests accept: the ones :class:`BoundedBody` decodes with a bound."""

_GZIP_WBITS = zlib.MAX_WBITS | 16


class BodyError(Exception):
    """The body is over the cap (``too_large``), or its encoding cannot be decoded."""

    def __init__(self, message: str, *, too_large: bool) -> None:
        super().__init__(message)
        self.too_large = too_large


class _Stage:
    """One content encoding's decompressor; deflate starts zlib-wrapped and falls back to raw
    deflate on the first chunk, as servers send both."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._raw_fallback = encoding == "deflate"
        wbits = _GZIP_WBITS if encoding in ("gzip", "x-gzip") else zlib.MAX_WBITS
        self._inflate = zlib.decompressobj(wbits)

    def decode(self, data: bytes, room: int) -> bytes:
        """Up to ``room`` bytes of output; :class:`BodyError` (too large) if more would come."""
        try:
            out = self._inflate.decompress(data, room)
        except zlib.error:
            if not self._raw_fallback:
                raise
            self._raw_fallback = False
            self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._inflate.decompress(data, room)
        self._raw_fallback = False
        if self._inflate.unconsumed_tail:
            raise BodyError("over the cap", too_large=True)
        return out

    def flush(self, room: int) -> bytes:
        out = self._inflate.flush(room)
        if len(out) >= room:
            raise BodyError("over the cap", too_large=True)
        return out


class BoundedBody:
    """Collects a body from its raw chunks, decoding ``Content-Encoding`` up to ``cap`` bytes."""

    def __init__(self, content_encoding: str | None, cap: int) -> None:
        self.cap = cap
        self.read = 0
        """Decoded bytes kept so far (for the message when the cap is hit)."""
        self._content = bytearray()
        names = [part.strip().lower() for part in (content_encoding or "").split(",")]
        names = [name for name in names if name and name != "identity"]
        unknown = [name for name in names if name not in ("gzip", "x-gzip", "deflate")]
        if unknown:
            raise BodyError(
                f"DecodingError: the answer is encoded as {', '.join(unknown)}, which was not "
                f"asked for (Accept-Encoding: {ACCEPT_ENCODING})",
                too_large=False,
            )
        # Content-Encoding lists the encodings in the order they were applied: undo the last first.
        self._stages = [_Stage(name) for name in reversed(names)]

    def feed(self, raw: bytes) -> None:
        self._keep(self._through(raw, flush=False))

    def feed_decoded(self, content: bytes) -> None:
        """A body httpx already holds decoded (an in-memory answer from MockTransport or respx):
        nothing to bound while decoding, only the size to check."""
        self._stages = []
        self._keep(content)

    def finish(self) -> bytes:
        self._keep(self._through(b"", flush=True))
        return bytes(self._content)

    def _room(self) -> int:
        return self.cap - len(self._content) + 1  # one byte more than fits: the cap is passed

    def _through(self, data: bytes, *, flush: bool) -> bytes:
        try:
            for stage in self._stages:
                room = self._room()
                data = stage.decode(data, room)
                if flush:
                    left = room - len(data)
                    if left <= 0:
                        raise BodyError("over the cap", too_large=True)
                    data += stage.flush(left)
        except zlib.error as exc:
            encodings = ", ".join(stage.encoding for stage in reversed(self._stages))
            raise BodyError(
                f"DecodingError: the answer's {encodings} encoding cannot be decoded ({exc})",
                too_large=False,
            ) from None
        except BodyError:
            self.read = self.cap + 1
            raise
        return data

    def _keep(self, data: bytes) -> None:
        self._content += data
        self.read = len(self._content)
        if len(self._content) > self.cap:
            raise BodyError("over the cap", too_large=True)
