"""Presidio's analyzer with its pattern recognizers, offline: no spaCy model (a stand-in NLP engine gives the
recognizers no tokens, which pattern recognizers do not need) and no public-suffix download (e-mail domains are
checked against the list bundled with tldextract). Loading it takes seconds and tens of megabytes
(docs/performance.md): a worker loads it once (`PresidioDetector.shared`), before its first call."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from typing import Any

import tldextract
from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
from presidio_analyzer import predefined_recognizers as known
from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine, SpacyNlpEngine

from parley_agent.redaction.finds import Found
from parley_agent.redaction.policy import NER_TYPES, PATTERN_TYPES, ner_model

MIN_SCORE = 0.3  # Presidio scores a bare phone number 0.4: below this are guesses nobody acts on


class PresidioDetector:
    def __init__(self, engine: AnalyzerEngine) -> None:
        self.engine = engine
        self.supported = frozenset(engine.get_supported_entities(language="en"))

    @classmethod
    @functools.cache
    def shared(cls) -> PresidioDetector:
        return cls(_engine())

    def warm(self) -> None:
        self.find("ada@example.com 4111 1111 1111 1111 +1 415 555 2671", frozenset(PATTERN_TYPES))

    def find(self, text: str, types: frozenset[str]) -> list[Found]:
        if not text.strip() or not types:
            return []
        asked = sorted(types & self.supported)
        if not asked:
            return []
        results = self.engine.analyze(text, language="en", entities=asked, score_threshold=MIN_SCORE)
        return [Found(r.entity_type, r.start, r.end, r.score) for r in results]


def _engine() -> AnalyzerEngine:
    registry = RecognizerRegistry(supported_languages=["en"])
    for recognizer in (
        known.CreditCardRecognizer(), OfflineEmailRecognizer(), known.PhoneRecognizer(), known.IbanRecognizer(),
        known.IpRecognizer(), known.UsSsnRecognizer(), known.UsItinRecognizer(), known.UsBankRecognizer(),
        known.UsPassportRecognizer(), known.NhsRecognizer(), known.CryptoRecognizer(),
    ):  # fmt: skip
        registry.add_recognizer(recognizer)
    model = ner_model()
    nlp: NlpEngine = NoNlpEngine()
    if model:
        nlp = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": model}])
        registry.add_recognizer(known.SpacyRecognizer(supported_entities=list(NER_TYPES)))
    return AnalyzerEngine(nlp_engine=nlp, registry=registry, supported_languages=["en"])


class OfflineEmailRecognizer(known.EmailRecognizer):
    """Presidio's e-mail recognizer, the domain checked against the bundled public-suffix list only (its own
    check would fetch the list from the internet first)."""

    domains = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    def validate_result(self, pattern_text: str) -> bool:
        return bool(self.domains(pattern_text).fqdn)


class NoNlpEngine(NlpEngine):
    """No tokens, no entities: all pattern recognizers need, without a model to load."""

    def load(self) -> None:
        return None

    def is_loaded(self) -> bool:
        return True

    def process_text(self, text: str, language: str) -> NlpArtifacts:
        no_tokens: Any = []  # a spaCy Doc where a model runs; pattern recognizers read none
        return NlpArtifacts(
            entities=[], tokens=no_tokens, tokens_indices=[], lemmas=[], nlp_engine=self, language=language
        )

    def process_batch(
        self, texts: Iterable[str], language: str, batch_size: int = 1, n_process: int = 1, **_: Any
    ) -> Iterator[tuple[str, NlpArtifacts]]:
        for text in texts:
            yield text, self.process_text(text, language)

    def is_stopword(self, word: str, language: str) -> bool:
        return False

    def is_punct(self, word: str, language: str) -> bool:
        return False

    def get_supported_entities(self) -> list[str]:
        return []

    def get_supported_languages(self) -> list[str]:
        return ["en"]
