"""Request bodies sent gzip- or deflate-compressed, inflated a step at a time up to a size limit."""

from __future__ import annotations

import asyncio
import zlib
from dataclasses import dataclass

#: Bytes inflated between two yields to the event loop (well under a millisecond of work).
STEP = 256 * 1024
#: zlib's window bits for each Content-Encoding we inflate: gzip's header, or zlib's.
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


@dataclass(frozen=True, slots=True)
class Inflated:
    """A body after its Content-Encoding: at most `limit` bytes, and what went wrong, if anything."""

    body: bytes
    #: It inflates to more than the limit (only its start was kept).
    too_big: bool = False
    #: Why it could not be inflated (the body is then the bytes as sent); "" when it could.
    problem: str = ""


def encoding_of(header: str) -> str:
    """The Content-Encoding to undo, lower case; "" for none or identity."""
    value = header.strip().lower()
    return "" if value in ("", "identity") else value


async def inflate(body: bytes, encoding: str, limit: int) -> Inflated:
    """`body` inflated as `encoding` says, stopping at `limit` bytes: a zip bomb costs no more
    than a body of `limit` bytes would."""
    wbits = _WBITS.get(encoding)
    if wbits is None:
        return Inflated(body, problem=f"the body's Content-Encoding \"{encoding}\" is not one "
                                      "snowcatcher can decode (it decodes gzip and deflate)")
    if encoding == "deflate" and body[:1] and body[0] & 0x0F != 8:
        wbits = -zlib.MAX_WBITS  # raw deflate without the zlib header, as some clients send it
    inflater = zlib.decompressobj(wbits)
    parts: list[bytes] = []
    size = 0
    pending = body
    try:
        while size <= limit:
            part = inflater.decompress(pending, min(STEP, limit + 1 - size))
            pending = inflater.unconsumed_tail
            parts.append(part)
            size += len(part)
            if not pending or inflater.eof:
                break
            await asyncio.sleep(0)
    except zlib.error as error:
        return Inflated(body, problem=f"the body is not valid {encoding} data ({error}), although its "
                                      f"Content-Encoding says so")
    if size <= limit and not inflater.eof:
        return Inflated(body, problem=f"the body's {encoding} data ends before its end mark "
                                      "(cut short?)")
    return Inflated(b"".join(parts)[:limit], too_big=size > limit)
