"""The fakes the tests run on and the real classes implement the same protocols, with the same signatures:
a method added to or changed in one of them and not the other fails here, not in a distant API test."""

from __future__ import annotations

import inspect

import pytest

from embeddings.encoder import Encoder as RealEncoder
from embeddings.protocol import Encoder
from rag.answering.protocol import AnswerServiceProtocol
from rag.answering.service import AnswerService
from testkit.fakes import FakeAnswerService, FakeEncoder


def members(protocol: type) -> dict[str, object]:
    return {name: value for name, value in vars(protocol).items() if not name.startswith("_")}


def parameters(fn) -> list[tuple[str, object]]:
    return [(p.name, p.default) for p in inspect.signature(fn).parameters.values() if p.name != "self"]


@pytest.mark.parametrize(("protocol", "implementations"), [
    (Encoder, [RealEncoder, FakeEncoder]),
    (AnswerServiceProtocol, [AnswerService, FakeAnswerService]),
])
def test_real_and_fake_classes_have_the_protocols_methods_with_its_signatures(protocol, implementations):
    methods = {name: fn for name, fn in members(protocol).items() if inspect.isfunction(fn)}
    assert methods
    for cls in implementations:
        assert protocol not in cls.__mro__[1:]  # implemented, not inherited
        for name, fn in methods.items():
            assert parameters(getattr(cls, name)) == parameters(fn), (cls.__name__, name)


def test_the_fakes_and_the_real_service_are_instances_of_the_protocols(real_corpus, fake_retriever):
    assert isinstance(FakeEncoder(), Encoder)
    assert isinstance(fake_retriever.encoder, Encoder)
    assert isinstance(FakeAnswerService(real_corpus, fake_retriever), AnswerServiceProtocol)
    assert isinstance(AnswerService(fake_retriever, real_corpus), AnswerServiceProtocol)
    assert not issubclass(FakeAnswerService, AnswerService)
