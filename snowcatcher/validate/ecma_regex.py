"""Schema patterns are ECMA-262 regular expressions: translate them for RE2 or Python's `regex`.

The engines disagree with ECMA-262 on details that change verdicts: Python's `$` also matches
before a final newline (`1-0-0\\n` would pass `^[0-9-]+$`), Python's `\\d` and `\\w` take any
Unicode digit or letter, RE2's `\\s` lacks `\\v` and the Unicode spaces, `.` in both engines
matches `\\r`, U+2028 and U+2029, and neither knows `\\uXXXX` or `\\cX`. The translation spells
each such construct out, so both engines give ECMA-262's answer.
"""

from __future__ import annotations

from collections.abc import Callable

# ECMA-262 WhiteSpace and LineTerminator code points, which is what its `\s` matches.
_SPACE = (0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0xA0, 0x1680, (0x2000, 0x200A), 0x2028, 0x2029,
          0x202F, 0x205F, 0x3000, 0xFEFF)
_LINE_ENDS = (0x0A, 0x0D, 0x2028, 0x2029)
_HEX = frozenset("0123456789abcdefABCDEF")


class Untranslatable(ValueError):
    """The pattern uses something the target engine cannot express (RE2: lookaround,
    backreferences); the caller falls back to the other engine."""


def for_re2(pattern: str) -> str:
    """The pattern in RE2 syntax, ECMA-262 semantics; raises Untranslatable."""
    return _Translator(pattern, _re2_char, re2=True).run()


def for_regex(pattern: str) -> str:
    """The pattern in the `regex` module's syntax (V0), ECMA-262 semantics."""
    return _Translator(pattern, _python_char, re2=False).run()


def _re2_char(code: int) -> str:
    return f"\\x{{{code:X}}}"


def _python_char(code: int) -> str:
    return f"\\x{code:02X}" if code < 0x100 else (f"\\u{code:04X}" if code < 0x10000 else f"\\U{code:08X}")


class _Translator:
    """One left-to-right pass over the pattern, tracking whether it is inside `[...]`."""

    def __init__(self, pattern: str, char: Callable[[int], str], *, re2: bool) -> None:
        self.text = pattern
        self.char = char
        self.re2 = re2
        self.at = 0
        self.out: list[str] = []

    def run(self) -> str:
        while self.at < len(self.text):
            self._outside()
        return "".join(self.out)

    def _ranges(self, codes: tuple[int | tuple[int, int], ...]) -> str:
        return "".join(self.char(c) if isinstance(c, int) else f"{self.char(c[0])}-{self.char(c[1])}"
                       for c in codes)

    def _outside(self) -> None:
        c = self.text[self.at]
        self.at += 1
        if c == "\\":
            self.out.append(self._escape(in_class=False))
        elif c == "[":
            self._class()
        elif c == ".":
            self.out.append(f"[^{self._ranges(_LINE_ENDS)}]")
        elif c == "$":
            self.out.append("$" if self.re2 else r"\Z")  # RE2's `$` is already the end of text
        elif c == "(" and self.text.startswith("?", self.at):
            rest = self.text[self.at + 1:self.at + 3]
            if self.re2 and (rest[:1] in ("=", "!") or rest in ("<=", "<!")):
                raise Untranslatable("lookaround")
            self.out.append(c)
        else:
            self.out.append(c)

    def _class(self) -> None:
        negated = self.text.startswith("^", self.at)
        if negated:
            self.at += 1
        if self.text.startswith("]", self.at):  # ECMA-262: [] matches nothing, [^] anything
            self.at += 1
            everything = self._ranges(((0, 0x10FFFF),))
            self.out.append(f"[{everything}]" if negated else f"[^{everything}]" if self.re2 else "(?!)")
            return
        parts = ["[^" if negated else "["]
        while self.at < len(self.text) and self.text[self.at] != "]":
            c = self.text[self.at]
            self.at += 1
            if c == "\\":
                parts.append(self._escape(in_class=True))
            elif c == "[":
                parts.append(r"\[")  # a literal in ECMA-262; `[[:alpha:]]` is a POSIX class elsewhere
            else:
                parts.append(c)
        if self.at >= len(self.text):
            raise Untranslatable("unterminated character class")
        self.at += 1
        self.out.append("".join(parts) + "]")

    def _escape(self, *, in_class: bool) -> str:
        if self.at >= len(self.text):
            raise Untranslatable("a pattern cannot end with a backslash")
        c = self.text[self.at]
        self.at += 1
        simple = {"d": "0-9", "w": "0-9A-Za-z_", "s": self._ranges(_SPACE)}
        if c in simple:
            return simple[c] if in_class else f"[{simple[c]}]"
        if c in "DWS":
            if in_class:
                if c == "S" or not self.re2:
                    raise Untranslatable("a negated class escape inside a character class")
                return "\\" + c  # RE2's \D and \W are ASCII, as ECMA-262's
            return f"[^{simple[c.lower()]}]"
        if c == "u":
            return self.char(self._unicode_escape())
        if c == "x" and self._hex_ahead(2):
            code = int(self.text[self.at:self.at + 2], 16)
            self.at += 2
            return self.char(code)
        if c == "c" and self.at < len(self.text) and self.text[self.at].isascii() \
                and self.text[self.at].isalpha():
            code = ord(self.text[self.at]) % 32
            self.at += 1
            return self.char(code)
        if c == "0" and not self.text[self.at:self.at + 1].isdigit():
            return self.char(0)
        if c.isdigit() or c == "k":
            if self.re2:
                raise Untranslatable("backreference")
            return "\\" + c
        if c == "b" and in_class:
            return self.char(8)  # backspace inside a class
        if c in "bBtnrvf" or not c.isalnum():
            return "\\" + c
        if c in "pP" and self.re2:
            return "\\" + c  # Unicode properties: what schema authors mean by them
        return c  # ECMA-262 identity escape: `\a` is `a`, `\A` is `A`

    def _hex_ahead(self, count: int) -> bool:
        chunk = self.text[self.at:self.at + count]
        return len(chunk) == count and all(ch in _HEX for ch in chunk)

    def _unicode_escape(self) -> int:
        if not self._hex_ahead(4):
            return ord("u")  # identity escape
        code = int(self.text[self.at:self.at + 4], 16)
        self.at += 4
        # A surrogate pair written as two escapes is one code point.
        if 0xD800 <= code <= 0xDBFF and self.text.startswith("\\u", self.at):
            self.at += 2
            if self._hex_ahead(4):
                low = int(self.text[self.at:self.at + 4], 16)
                if 0xDC00 <= low <= 0xDFFF:
                    self.at += 4
                    return 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
            self.at -= 2
        if 0xD800 <= code <= 0xDFFF and self.re2:
            raise Untranslatable("a lone surrogate")
        return code
