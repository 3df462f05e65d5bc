"""A linear-time regular-expression matcher for the ``~`` filter operator.

Python's ``re`` backtracks, so a pattern such as ``(a+)+$`` sent in a filter could pin a CPU for
minutes. This module accepts the usual subset (literals, ``.``, classes ``[...]``, ``\\d\\w\\s``,
groups, ``|``, ``* + ?`` and ``{m,n}``, anchors ``^``/``$``) and matches with a lazily built DFA:
time grows linearly with the text and the pattern, whatever they are. Back-references,
look-arounds and inline flags are refused (:class:`RegexError`), as is a pattern longer than
:data:`MAX_PATTERN`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

MAX_PATTERN = 256
#: Largest ``{m,n}`` bound (each repeat copies the atom into the automaton).
MAX_REPEAT = 32
#: Most automaton states a pattern may compile to.
MAX_STATES = 4096
#: Cached DFA states per pattern before the cache is cleared.
_MAX_DFA = 2048

Pred = Callable[[str], bool]


class RegexError(ValueError):
    """The pattern is malformed or uses a feature the matcher does not support."""


@dataclass
class _State:
    kind: str  # "char", "split", "bol", "eol", "match"
    pred: Pred | None = None
    out: list[int] = field(default_factory=list)


_CLASS_ESCAPES: dict[str, Pred] = {
    "d": str.isdigit,
    "D": lambda c: not c.isdigit(),
    "w": lambda c: c.isalnum() or c == "_",
    "W": lambda c: not (c.isalnum() or c == "_"),
    "s": str.isspace,
    "S": lambda c: not c.isspace(),
}
_LITERAL_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v"}
_META = set(".^$*+?()[]{}|\\/-")


class _Parser:
    """Recursive-descent parser building a Thompson NFA (fragments are (start, [dangling])."""

    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.i = 0
        self.states: list[_State] = []

    def new(self, kind: str, pred: Pred | None = None, out: list[int] | None = None) -> int:
        if len(self.states) >= MAX_STATES:
            raise RegexError("the pattern is too complex")
        self.states.append(_State(kind, pred, list(out or [])))
        return len(self.states) - 1

    def peek(self) -> str | None:
        return self.p[self.i] if self.i < len(self.p) else None

    # Grammar: alt := seq ('|' seq)* ; seq := rep* ; rep := atom quant?
    def parse(self) -> int:
        start, ends = self.alt()
        if self.i != len(self.p):
            raise RegexError(f"unbalanced ')' at position {self.i}")
        match = self.new("match")
        self.patch(ends, match)
        return start

    def patch(self, ends: list[tuple[int, int]], target: int) -> None:
        for state, slot in ends:
            self.states[state].out[slot] = target

    def alt(self) -> tuple[int, list[tuple[int, int]]]:
        start, ends = self.seq()
        while self.peek() == "|":
            self.i += 1
            s2, e2 = self.seq()
            split = self.new("split", out=[start, s2])
            start, ends = split, ends + e2
        return start, ends

    def seq(self) -> tuple[int, list[tuple[int, int]]]:
        frag: tuple[int, list[tuple[int, int]]] | None = None
        while self.peek() not in (None, "|", ")"):
            nxt = self.rep()
            if frag is None:
                frag = nxt
            else:
                self.patch(frag[1], nxt[0])
                frag = (frag[0], nxt[1])
        if frag is None:  # empty branch: an epsilon
            e = self.new("split", out=[-1])
            return e, [(e, 0)]
        return frag

    def rep(self) -> tuple[int, list[tuple[int, int]]]:
        atom_start = self.i
        frag = self.atom()
        atom_end = self.i
        c = self.peek()
        if c is None or c not in "*+?{":
            return frag
        if c == "{":
            lo, hi = self.braces()
            frag = self.repeat_copies(atom_start, atom_end, frag, lo, hi)
        else:
            self.i += 1
            frag = self.quantify(frag, c)
        if self.peek() == "?":  # lazy: the same language
            self.i += 1
        after = self.peek()
        if after is not None and after in "*+{":
            raise RegexError(f"nested quantifier at position {self.i}")
        return frag

    def quantify(self, frag: tuple[int, list[tuple[int, int]]], q: str) -> tuple[int, list[tuple[int, int]]]:
        start, ends = frag
        if q == "*":
            split = self.new("split", out=[start, -1])
            self.patch(ends, split)
            return split, [(split, 1)]
        if q == "+":
            split = self.new("split", out=[start, -1])
            self.patch(ends, split)
            return start, [(split, 1)]
        split = self.new("split", out=[start, -1])  # "?"
        return split, [*ends, (split, 1)]

    def braces(self) -> tuple[int, int | None]:
        close = self.p.find("}", self.i)
        if close < 0:
            raise RegexError("unterminated '{'")
        body = self.p[self.i + 1 : close]
        lo_s, sep, hi_s = body.partition(",")
        try:
            lo = int(lo_s)
            hi = None if sep and not hi_s.strip() else int(hi_s if sep else lo_s)
        except ValueError as exc:
            raise RegexError(f"invalid repeat '{{{body}}}'") from exc
        if lo < 0 or lo > MAX_REPEAT or (hi is not None and (hi < lo or hi > MAX_REPEAT)):
            raise RegexError(f"repeat counts must be between 0 and {MAX_REPEAT}")
        self.i = close + 1
        return lo, hi

    def repeat_copies(
        self, a0: int, a1: int, first: tuple[int, list[tuple[int, int]]], lo: int, hi: int | None
    ) -> tuple[int, list[tuple[int, int]]]:
        def copy() -> tuple[int, list[tuple[int, int]]]:
            sub = _Parser(self.p[a0:a1])
            sub.states = self.states
            f = sub.atom()
            if sub.i != a1 - a0:
                raise RegexError("invalid repeat")
            return f

        pieces: list[tuple[int, list[tuple[int, int]]]] = []
        count = max(lo, 1) if hi is None else hi
        made = [first] + [copy() for _ in range(max(count, 1) - 1)]
        for k, frag in enumerate(made):
            if hi is None and k == count - 1:
                frag = self.quantify(frag, "*" if lo == 0 else "+")
            elif k >= lo:
                frag = self.quantify(frag, "?")
            pieces.append(frag)
        if hi == 0:
            e = self.new("split", out=[-1])
            return e, [(e, 0)]
        start, ends = pieces[0]
        for nxt in pieces[1:]:
            self.patch(ends, nxt[0])
            ends = nxt[1]
        return start, ends

    def atom(self) -> tuple[int, list[tuple[int, int]]]:
        c = self.peek()
        if c is None:
            raise RegexError("unexpected end of pattern")
        self.i += 1
        if c == "(":
            if self.peek() == "?":
                if self.p[self.i : self.i + 2] != "?:":
                    raise RegexError("look-arounds, named groups and inline flags are not supported")
                self.i += 2
            start, ends = self.alt()
            if self.peek() != ")":
                raise RegexError("missing ')'")
            self.i += 1
            return start, ends
        if c in "*+?{":
            raise RegexError(f"nothing to repeat at position {self.i - 1}")
        if c == ")":
            raise RegexError(f"unbalanced ')' at position {self.i - 1}")
        if c == "^":
            s = self.new("bol", out=[-1])
            return s, [(s, 0)]
        if c == "$":
            s = self.new("eol", out=[-1])
            return s, [(s, 0)]
        if c == ".":
            return self.char(lambda ch: ch != "\n")
        if c == "[":
            return self.char(self.char_class())
        if c == "\\":
            return self.char(self.escape(in_class=False))
        return self.char(_eq(c))

    def char(self, pred: Pred) -> tuple[int, list[tuple[int, int]]]:
        s = self.new("char", pred, out=[-1])
        return s, [(s, 0)]

    def escape(self, *, in_class: bool) -> Pred:
        c = self.peek()
        if c is None:
            raise RegexError("pattern ends with '\\'")
        self.i += 1
        if c in _CLASS_ESCAPES:
            return _CLASS_ESCAPES[c]
        if c in _LITERAL_ESCAPES:
            return _eq(_LITERAL_ESCAPES[c])
        if c in _META or (in_class and c == "^") or not c.isalnum():
            return _eq(c)
        raise RegexError(f"unsupported escape '\\{c}' (back-references and \\b are not supported)")

    def char_class(self) -> Pred:
        negate = self.peek() == "^"
        if negate:
            self.i += 1
        items: list[Pred] = []
        first = True
        while True:
            c = self.peek()
            if c is None:
                raise RegexError("unterminated character class")
            if c == "]" and not first:
                self.i += 1
                break
            first = False
            self.i += 1
            if c == "\\":
                items.append(self.escape(in_class=True))
                continue
            if self.peek() == "-" and self.i + 1 < len(self.p) and self.p[self.i + 1] != "]":
                hi = self.p[self.i + 1]
                if hi == "\\":
                    raise RegexError("escapes cannot end a range")
                if hi < c:
                    raise RegexError(f"bad range {c}-{hi}")
                self.i += 2
                items.append(_between(c, hi))
                continue
            items.append(_eq(c))

        def pred(ch: str) -> bool:
            return any(p(ch) for p in items) != negate

        return pred


def _eq(c: str) -> Pred:
    return lambda ch: ch == c


def _between(lo: str, up: str) -> Pred:
    return lambda ch: lo <= ch <= up


class SafePattern:
    """A compiled pattern; :meth:`search` is ``re.search(...) is not None`` in linear time."""

    def __init__(self, pattern: str) -> None:
        if len(pattern) > MAX_PATTERN:
            raise RegexError(f"the pattern is longer than {MAX_PATTERN} characters")
        parser = _Parser(pattern)
        self._start = parser.parse()
        self._states = parser.states
        self._dfa: dict[tuple[frozenset[int], str, bool], frozenset[int]] = {}

    def _closure(self, states: set[int], at_start: bool, at_end: bool) -> frozenset[int]:
        out: set[int] = set()
        stack = list(states)
        while stack:
            s = stack.pop()
            if s in out:
                continue
            st = self._states[s]
            if st.kind == "split":
                out.add(s)
                stack.extend(o for o in st.out if o >= 0)
            elif st.kind == "bol":
                out.add(s)
                if at_start:
                    stack.append(st.out[0])
            elif st.kind == "eol":
                out.add(s)
                if at_end:
                    stack.append(st.out[0])
            else:
                out.add(s)
        return frozenset(out)

    def _matched(self, current: frozenset[int]) -> bool:
        return any(self._states[s].kind == "match" for s in current)

    def _step(self, current: frozenset[int], ch: str, at_end: bool) -> frozenset[int]:
        key = (current, ch, at_end)
        cached = self._dfa.get(key)
        if cached is not None:
            return cached
        stepped: set[int] = set()
        for s in current:
            st = self._states[s]
            if st.kind == "char" and st.pred is not None and st.pred(ch):
                stepped.add(st.out[0])
        stepped.add(self._start)  # unanchored search: a match may start here
        nxt = self._closure(stepped, False, at_end)
        if len(self._dfa) >= _MAX_DFA:
            self._dfa.clear()
        self._dfa[key] = nxt
        return nxt

    def search(self, text: str) -> bool:
        """Does the pattern match anywhere in ``text``?"""
        n = len(text)
        # Like Python's ``$``: the end of the text, or just before a final newline.
        nl_end = n - 1 if text.endswith("\n") else n

        def at_end(pos: int) -> bool:
            return pos in (n, nl_end)

        current = self._closure({self._start}, True, at_end(0))
        if self._matched(current):
            return True
        for pos, ch in enumerate(text, start=1):
            current = self._step(current, ch, at_end(pos))
            if self._matched(current):
                return True
        return False


@lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> SafePattern:
    """Compile (cached); raises :class:`RegexError` for unsupported or malformed patterns."""
    return SafePattern(pattern)
