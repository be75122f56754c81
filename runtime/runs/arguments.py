"""The string argument of a built-in tool call (`python(code)`, `file_search(query)`): read from the
finished JSON arguments, or decoded while they still stream in so the code shows as it is written.

Both readings agree: what `StreamedArgument` has shown is a prefix of what `argument` reads from the
finished arguments, and `StreamedArgument.rest` gives the remainder. Strings may hold raw control
characters (small models write real newlines inside JSON strings), and a model that sent bare text
instead of JSON meant the value itself.
"""

import json
import re

_SPACE = re.compile(r"\s+")


def argument(arguments: str, name: str) -> str:
    """The named string argument; a lone argument of another name, or bare text, counts as it."""
    try:
        parsed = json.loads(arguments, strict=False)
    except (json.JSONDecodeError, TypeError):
        return arguments or ""
    if isinstance(parsed, dict):
        value = parsed.get(name)
        if value is None and len(parsed) == 1:
            value = next(iter(parsed.values()))
        return value if isinstance(value, str) else json.dumps(value) if value is not None else ""
    return parsed if isinstance(parsed, str) else arguments


def _complete_end(raw: str, start: int) -> tuple[int, bool]:
    """Where the complete characters of the JSON string body from `start` end, and whether the
    string's closing quote was reached. An escape cut by the end of `raw` (`\\`, `\\u00`, half a
    surrogate pair) waits for its next fragment."""
    i, n = start, len(raw)
    while i < n:
        c = raw[i]
        if c == '"':
            return i, True
        if c != "\\":
            i += 1
            continue
        if i + 1 >= n:
            break
        if raw[i + 1] != "u":
            i += 2
            continue
        if i + 6 > n:
            break
        high = raw[i + 2 : i + 6].lower()
        if "d800" <= high <= "dbff" and len(high) == 4:  # a high surrogate: keep its pair together
            if i + 12 > n:
                break
            i += 12
        else:
            i += 6
    return i, False


class StreamedArgument:
    """Decodes one string argument out of JSON arguments that arrive in fragments."""

    def __init__(self, name: str):
        self.name = name
        self.raw = ""
        self.shown = ""
        self._at: int | None = None  # where the undecoded part of the value starts in `raw`
        self._mode = "wait"  # wait (for the value's start), value, bare, done

    def feed(self, fragment: str) -> str:
        """Add a fragment of the arguments; return the newly decoded text of the value."""
        self.raw += fragment
        if self._mode == "wait":
            self._find_value()
        if self._mode == "bare":
            piece = self.raw[len(self.shown) :]
        elif self._mode == "value":
            end, closed = _complete_end(self.raw, self._at)
            try:
                piece = json.loads(f'"{self.raw[self._at : end]}"', strict=False)
            except json.JSONDecodeError:  # not valid JSON after all: the rest shows when it is finished
                piece, self._mode = "", "done"
            else:
                self._at = end
                if closed:
                    self._mode = "done"
        else:
            piece = ""
        self.shown += piece
        return piece

    def rest(self, arguments: str) -> str:
        """What the finished `arguments` hold beyond what was shown ("" if they disagree)."""
        value = argument(arguments, self.name)
        return value[len(self.shown) :] if value.startswith(self.shown) else ""

    def _find_value(self) -> None:
        head = self.raw.lstrip()
        if not head:
            return
        if head[0] == '"':
            self._mode, self._at = "value", len(self.raw) - len(head) + 1
        elif head[0] != "{":
            self._mode = "bare"
        else:
            opening = f'{{"{self.name}":"'
            found = re.match(r'\s*\{\s*"' + re.escape(self.name) + r'"\s*:\s*"', self.raw)
            if found:
                self._mode, self._at = "value", found.end()
            elif not opening.startswith(_SPACE.sub("", self.raw[:200])):
                self._mode = "done"  # another key first: the value shows when the call is finished
