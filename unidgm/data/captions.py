"""Captions for digit images, made from their labels and tokenized by the library, for
caption-to-image models in the manner of DALL-E (Ramesh et al. 2021 [1]).

**Phrasings.** Each digit is described by a few templates, with the number as a word or as a
numeral: ``"a handwritten seven"``, ``"the number 7"``, ``"digit seven"``, ``"an image of a
seven"``, ``"a picture of the digit 7"``, ``"7"``. Two further templates (``"the digit
seven"``, ``"an image of the number 7"``) are *held out*: no training caption uses them, so a
model's accuracy on them measures whether it learned the words rather than the sentences.
Every word of a held-out phrasing also occurs in some training phrasing.

**Tokens.** Whole words (the vocabulary is a few dozen words, so no byte-pair encoding as in
[1], Sec. 2.2), lowercased, split at white space. Ids: the ten numerals ``"0"`` .. ``"9"``
(id = digit), the ten number words ``"zero"`` .. ``"nine"`` (id = 10 + digit), the other
template words in sorted order, then one padding token per text position. A caption is a
fixed-length int64 sequence of `Captions.length` ids: its words, then at every position ``i``
past its end the padding token ``<pad_i>``, whose id depends on the position ([1], Sec. 2.2:
a special padding token is learned separately for each of the 256 text positions and used
only where no text token is available). A word outside the vocabulary is refused with a
`DataError` naming it (there is no ``<unk>`` token: every caption of the data is known, and a
user caption with a typo should fail loudly, not draw an unconditional image).

**Data.** `load_captioned` adds a key ``"t"`` to every split of an image dataset: one caption
per image, drawn (seeded) from the training phrasings of its label. ``meta["t_held_out"]``
holds a second caption for each *test* image, drawn from the held-out phrasings, row for row
with the test split. It lives in ``meta``, not in a split, because every split has the same
keys and the training split must not carry held-out phrasings.

References:
    [1] A. Ramesh, M. Pavlov, G. Goh, S. Gray, C. Voss, A. Radford, M. Chen, I. Sutskever,
        "Zero-Shot Text-to-Image Generation", ICML 2021.
"""

from __future__ import annotations

import string
from collections.abc import Sequence

import torch

from unidgm.data.splits import SPLITS, DataSplits
from unidgm.errors import ConfigError, DataError

NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
NUMERALS = tuple(str(d) for d in range(10))
NUM_DIGITS = 10

#: Phrasing templates: ``{word}`` is the number word ("seven"), ``{numeral}`` the numeral
#: ("7"), ``{a}`` the article that goes before the number word ("an" for "eight").
TEMPLATES = (
    "{numeral}",
    "digit {word}",
    "the number {numeral}",
    "a handwritten {word}",
    "an image of {a} {word}",
    "a picture of the digit {numeral}",
    "the digit {word}",
    "an image of the number {numeral}",
)
#: The templates kept out of training (the last two of `TEMPLATES`).
HELD_OUT = ("the digit {word}", "an image of the number {numeral}")
#: The padding token at text position ``i``.
PAD = "<pad_{}>"
_PLACEHOLDERS = {"word", "numeral", "a"}


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _fill(template: str, digit: int) -> str:
    word = NUMBER_WORDS[digit]
    return template.format(word=word, numeral=NUMERALS[digit], a=_article(word))


def _check_template(template: str) -> None:
    fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    unknown = set(fields) - _PLACEHOLDERS
    named = [f for f in fields if f in ("word", "numeral")]
    if unknown or len(named) != 1:
        raise ConfigError(
            f"caption template {template!r}: it must name the digit exactly once, as {{word}} "
            f"or {{numeral}}, and may use {{a}} for the article; it has fields {fields}."
        )


class Captions:
    """A word-level caption tokenizer for digit captions (module docstring; Ramesh et al.
    2021, Sec. 2.2, for the per-position padding tokens).

    Args:
        templates: phrasing templates, training and held out together (`TEMPLATES`).
        held_out: the templates no training caption uses (`HELD_OUT`); a subset of
            `templates`, leaving at least one for training. ``()`` holds out none.
        length: the caption length L in tokens; None derives the longest phrasing's.

    Attributes:
        words: the vocabulary's words; a word's id is its index.
        length: L, the number of text positions.
        vocab_size: ``len(words) + length``: the words, then one padding token per position.
        pad_ids: int64 (L,), the padding token of each position.
    """

    def __init__(
        self,
        templates: Sequence[str] = TEMPLATES,
        held_out: Sequence[str] = HELD_OUT,
        length: int | None = None,
    ):
        templates, held_out = tuple(templates), tuple(held_out)
        for template in templates:
            _check_template(template)
        if len(set(templates)) != len(templates):
            raise ConfigError(f"caption templates repeat: {templates}; give each once.")
        strays = [t for t in held_out if t not in templates]
        if strays:
            raise ConfigError(
                f"held-out caption templates {strays} are not among the templates {templates}; "
                "hold out some of the templates."
            )
        self.templates = tuple(t for t in templates if t not in held_out)
        self.held_out_templates = tuple(t for t in templates if t in held_out)
        if not self.templates:
            raise ConfigError("every caption template is held out; keep at least one for training.")

        every = [_fill(t, d).split() for t in templates for d in range(NUM_DIGITS)]
        longest = max(len(words) for words in every)
        if length is None:
            length = longest
        if isinstance(length, bool) or not isinstance(length, int) or length < longest:
            raise ConfigError(
                f"caption length={length!r} must be an integer of at least {longest}, the longest "
                "phrasing's word count, or None to use that."
            )
        others = sorted({w for words in every for w in words} - set(NUMERALS) - set(NUMBER_WORDS))
        self.words = NUMERALS + NUMBER_WORDS + tuple(others)
        self.length = length
        self.vocab_size = len(self.words) + length
        self.pad_ids = torch.arange(len(self.words), self.vocab_size)
        self._ids = {w: i for i, w in enumerate(self.words)}
        self._digits = {w: d for d in range(NUM_DIGITS) for w in (NUMERALS[d], NUMBER_WORDS[d])}
        # (10, P, L) token ids of every phrasing, for drawing captions without Python loops.
        self._table = {
            held: torch.stack([self.encode_batch(self.phrasings(d, held))
                               for d in range(NUM_DIGITS)])
            for held in (False, True)
            if self._templates(held)
        }

    def _templates(self, held_out: bool) -> tuple[str, ...]:
        return self.held_out_templates if held_out else self.templates

    def phrasings(self, digit: int, held_out: bool = False) -> list[str]:
        """The captions of `digit` from the training templates, or with ``held_out=True``
        from the held-out ones, e.g. ``phrasings(7)[3] == "a handwritten seven"``."""
        if isinstance(digit, bool) or not isinstance(digit, int) or not 0 <= digit < NUM_DIGITS:
            raise DataError(f"digit {digit!r}: captions name the digits 0..{NUM_DIGITS - 1}.")
        return [_fill(t, digit) for t in self._templates(held_out)]

    def encode(self, text: str) -> torch.Tensor:
        """The int64 ids (L,) of a caption: its words, then ``<pad_i>`` at each position
        ``i`` past its end. Refuses an empty caption, one of more than L words and one with a
        word outside the vocabulary (`DataError`)."""
        if not isinstance(text, str):
            raise DataError(f"a caption must be a string, got {type(text).__name__}: {text!r}.")
        words = text.lower().split()
        if not words:
            raise DataError(
                f"caption {text!r} is empty; give at least one word, e.g. "
                f"{self.phrasings(7)[-1]!r}."
            )
        if len(words) > self.length:
            raise DataError(
                f"caption {text!r} has {len(words)} words, more than the {self.length} text "
                f"positions; shorten it or build Captions(length={len(words)})."
            )
        unknown = next((w for w in words if w not in self._ids), None)
        if unknown is not None:
            others = self.words[2 * NUM_DIGITS :]
            shown = ", ".join(others[:20]) + (", ..." if len(others) > 20 else "")
            raise DataError(
                f"caption {text!r}: the word {unknown!r} is not in the vocabulary; known words are "
                f"0 .. 9, zero .. nine, {shown}. Captions are lowercased and split at spaces, "
                "with no punctuation."
            )
        ids = self.pad_ids.clone()
        ids[: len(words)] = torch.tensor([self._ids[w] for w in words])
        return ids

    def encode_batch(self, texts: Sequence[str]) -> torch.Tensor:
        """The int64 ids (N, L) of N captions (see `encode`)."""
        if isinstance(texts, str):
            raise DataError(f"encode_batch takes a list of captions, got the string {texts!r}; "
                            "use encode for one caption.")
        if not texts:
            return torch.empty(0, self.length, dtype=torch.int64)
        return torch.stack([self.encode(t) for t in texts])

    def decode(self, ids) -> str:
        """The caption of ids (L,) (a tensor or a sequence of ints): its words joined by
        spaces, every padding token dropped, wherever it stands."""
        ids = torch.as_tensor(ids)
        if ids.dim() != 1 or ids.is_floating_point():
            raise DataError(
                f"decode takes one caption's integer ids of shape (L,), got {ids.dtype} of shape "
                f"{tuple(ids.shape)}; use decode_batch for (N, L)."
            )
        self._check_ids(ids)
        return " ".join(self.words[i] for i in ids.tolist() if i < len(self.words))

    def decode_batch(self, ids) -> list[str]:
        """The captions of ids (N, L) (see `decode`)."""
        ids = torch.as_tensor(ids)
        if ids.dim() != 2:
            raise DataError(f"decode_batch takes ids of shape (N, L), got {tuple(ids.shape)}.")
        return [self.decode(row) for row in ids]

    def _check_ids(self, ids: torch.Tensor) -> None:
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= self.vocab_size):
            raise DataError(
                f"token ids must lie in [0, {self.vocab_size}) (vocab_size), got values in "
                f"[{int(ids.min())}, {int(ids.max())}]."
            )

    def digit_of(self, text) -> int | None:
        """The digit a caption names (a string, or ids (L,)), or None where it names none or
        several different ones: ``digit_of("a handwritten seven") == 7``. Words outside the
        vocabulary are ignored, so any text can be judged."""
        if not isinstance(text, str):
            text = self.decode(text)
        named = {self._digits[w] for w in text.lower().split() if w in self._digits}
        return named.pop() if len(named) == 1 else None

    def draw(
        self,
        labels: torch.Tensor,
        generator: torch.Generator | None = None,
        held_out: bool = False,
    ) -> torch.Tensor:
        """One caption per label, int64 (N, L): for each label a phrasing drawn uniformly
        from its training phrasings (or held-out ones), with `generator`."""
        labels = torch.as_tensor(labels)
        if labels.dim() != 1 or labels.is_floating_point():
            raise DataError(
                f"draw takes integer labels of shape (N,), got {labels.dtype} of shape "
                f"{tuple(labels.shape)}."
            )
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= NUM_DIGITS):
            raise DataError(
                f"labels must be digits 0..{NUM_DIGITS - 1} to be captioned, got values in "
                f"[{int(labels.min())}, {int(labels.max())}]; caption fully labelled data (before "
                "semi_supervised marks labels -1)."
            )
        if held_out not in self._table:
            raise DataError(
                "these Captions hold out no templates, so there are no held-out captions."
            )
        table = self._table[held_out]  # (10, P, L)
        choice = torch.randint(table.shape[1], labels.shape, generator=generator)
        return table[labels.cpu(), choice].to(labels.device)  # (N, L)

    def __repr__(self) -> str:
        return (
            f"Captions(words={len(self.words)}, length={self.length}, "
            f"vocab_size={self.vocab_size}, phrasings per digit: {len(self.templates)} training, "
            f"{len(self.held_out_templates)} held out)"
        )


def load_captioned(
    base: DataSplits, seed: int = 0, captions: Captions | None = None
) -> DataSplits:
    """`base` with a caption for every image, made from its label.

    Args:
        base: a labelled digit dataset (``"y"`` categorical over 10 classes), e.g.
            ``load("mnist")`` or ``load("digits")``.
        seed: seeds the choice of phrasing; drawn in the order train, val, test, held-out test.
        captions: the tokenizer; None builds ``Captions()`` (its `HELD_OUT` templates held out).

    Returns:
        `DataSplits` named ``base.name + "-captions"``: every split gains ``"t"``, int64
        (N, L), a training phrasing of each image's digit; ``shapes["t"] = (L, vocab_size)``,
        ``families["t"] = "categorical"``. ``meta`` gains ``"captions"`` (the tokenizer),
        ``"vocab_size"``, ``"caption_length"`` (L) and ``"t_held_out"``: int64 (N_test, L), a
        held-out phrasing for each test image (absent when nothing is held out).
    """
    if captions is None:
        captions = Captions()
    if "t" in base.shapes:
        raise DataError(f"dataset {base.name!r} already has a key 't'; it is captioned already.")
    if base.families.get("y") != "categorical" or base.shapes.get("y") != (NUM_DIGITS,):
        raise DataError(
            f"dataset {base.name!r} has no digit labels 'y' (categorical over {NUM_DIGITS} "
            "classes) to make captions from; caption 'mnist' or 'digits'."
        )
    generator = torch.Generator().manual_seed(seed)
    splits = {s: dict(getattr(base, s), t=captions.draw(getattr(base, s)["y"], generator))
              for s in SPLITS}
    meta = dict(base.meta, captions=captions, vocab_size=captions.vocab_size,
                caption_length=captions.length)
    if captions.held_out_templates:
        meta["t_held_out"] = captions.draw(base.test["y"], generator, held_out=True)
    return DataSplits(
        name=f"{base.name}-captions",
        **splits,
        shapes=dict(base.shapes, t=(captions.length, captions.vocab_size)),
        families=dict(base.families, t="categorical"),
        binarize=base.binarize,
        meta=meta,
    )
