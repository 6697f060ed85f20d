"""Who said it (rag/answering/speakers.py): a report's body, else a body its header or hand-over sentence
names, else the place it names as its own; nothing when it names no one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rag.answering.speakers import Speaker, speaker_of, speakers_of
from rag.config import PROJECT_ROOT
from rag.corpus import load_corpus, parse_bytes, read_source

SECOND_CORPUS = Path(os.environ.get("RAG_SECOND_CORPUS",
                                    PROJECT_ROOT.parent / "shared" / "corpora" / "dragonball-zh"))


def speaker(text: str) -> Speaker | None:
    """The speaker of a one-report file named without any body (「001.txt」)."""
    (report,) = parse_bytes(text.encode(), "001.txt").reports
    return speaker_of(report, text)


def place_report(place_lines: str, lead: str = "2023年上半年，我局紧紧围绕全区目标，加强行业管理。") -> str:
    return f"2023年上半年工作总结\n{lead}\n一、工作情况\n{place_lines}\n"


FANCHANG = ("制定《繁昌区夜间经济发展方案》，打造繁昌特色夜市。开展繁昌区住宿业提档行动，繁昌区消费增长。\n"
            "组织我区企业参加芜湖市展会，繁昌企业获奖，繁昌品牌走出去。")


def test_the_issuing_body_is_the_speaker_as_the_parser_found_it():
    assert speaker("市商务局2023年工作总结\n一、工作情况\n完成任务。\n") == Speaker("市商务局", "title")


def test_a_header_line_names_the_court_not_the_prosecutor():
    judgment = ("# 刑事判决书\n\n#### 案号：2023珠刑初字第2号\n\n苹果市珠港区人民法院\n\n"
                "公诉机关：苹果市珠港区人民检察院。\n\n被告人：宋某，男。\n")
    assert speaker(judgment) == Speaker("苹果市珠港区人民法院", "header")
    # the prosecutor stands alone over its role label, or after the parties are listed: a party, no header
    assert speaker("# 刑事判决书\n\n案号：（2023）青刑初字第1号\n\n青田区人民检察院\n    公诉机关\n\n"
                   "被告人：严某，女。\n") is None
    assert speaker("# 刑事判决书\n被告人：赵某。\n辩护人：任某。\n栗子市薰衣区人民检察院\n") is None
    record = "住院病历\n\n医院名称：朱雀市中心医院\n病历编号：1\n"
    assert speaker(record) == Speaker("朱雀市中心医院", "header")
    assert speaker("住院病历\n检察院名称：朱雀市人民检察院\n") is None  # a field naming another body


def test_a_header_line_is_a_name_not_a_heading_or_a_sentence():
    (report,) = parse_bytes("2023年工作总结\n完成任务。\n".encode(), "001.txt").reports  # no body, no level
    for line, body in [("繁昌区商务局", "繁昌区商务局"), ("## 繁昌区商务局2023年工作总结", "繁昌区商务局"),
                       ("审理法院：雨城市橡树区人民法院", "雨城市橡树区人民法院"),
                       ("（二）持续改善市容市貌", None), ("住址：霜叶市雨燕街84号", None),
                       ("繁昌区商务局在区委领导下，完成任务。", None)]:
        got = speaker_of(report, f"2023年工作总结\n{line}\n一、工作情况\n")
        assert got == (Speaker(body, "header") if body else None), line


def test_the_hand_over_sentence_names_the_writer():
    text = ("镇2023年上半年工作总结\n今年以来，我镇坚决贯彻县委部署，推进全镇发展。现将XX镇2023年上半年"
            "工作总结汇报如下：\n一、重点工作\n完成任务。\n")
    assert speaker(text) == Speaker("XX镇", "opening")
    # 「现将2023年上半年城市管理…」 names no one (「城市」 is no body)
    assert speaker("2023年上半年工作总结\n根据市政府部署，现将2023年上半年城市管理工作汇报如下：\n") is None


def test_the_place_a_report_names_again_and_again_speaks_for_it():
    assert speaker(place_report(FANCHANG)) == Speaker("繁昌区", "place")
    # named twice, as scope.py counts a place's own reports only from five mentions: nobody's yet
    assert speaker(place_report("推进无为市园林城市创建，无为市城区整治完成。")) is None


def test_a_place_must_be_the_reports_own_level_and_the_clear_first():
    town = "坚持全镇一盘棋。" + "北湖区先进单位、北湖区考核优秀、北湖区表彰，北湖区奖励。北湖经验推广。"
    assert speaker(place_report(town, lead="2023年以来，坚持产业发展。")) is None  # a 镇 names its 区
    tie = "颍东区、阜阳市合作，颍东区与阜阳市共建，颍东颍东颍东阜阳阜阳阜阳。"  # 5× each
    assert speaker(place_report(tie, lead="2023年以来，坚持发展。")) is None


def test_everyday_words_ending_in_a_unit_are_no_place():
    words = "、".join(["开发区建设", "住宅小区改造", "推进乡村振兴", "文化市场整治", "自然保护区"] * 3)
    assert speaker(place_report(words, lead="2023年以来，坚持发展。")) is None


def test_a_level_with_its_name_redacted_speaks_as_the_redacted_name():
    text = "街道2023年工作总结\n一、工作情况\n制定《XX街道站所长考评方案》，在全街道公示。\n"
    assert speaker(text) == Speaker("XX街道", "place")
    assert speaker("2023年工作总结\n一、工作情况\n完成任务。\n") is None


# What the bundled reports without an issuing body get, read against each one's text (see each comment).
BUNDLED_WITHOUT_BODY = {
    "000_dffbd2b9ae2d443c-r01": None,  # a 民政 plan that says only 「我市」: it names no body or place
    "001_a16a37852bc6584d-r02": None,  # 城市管理 by 「我市」: 无为市 named twice, 无为 3×, under scope's five
    "001_a16a37852bc6584d-r03": Speaker("繁昌区", "place"),  # 商务, 「我区」, 繁昌区 5× (繁昌 11×)
    "001_a16a37852bc6584d-r06": Speaker("XX街道", "place"),  # 「街道…」, 《XX街道…考评活动实施方案》
    "001_a16a37852bc6584d-r25": Speaker("XX镇", "opening"),  # 「现将XX镇2023年上半年工作总结…汇报如下」
    "003_222c8e348102ca24-r01": Speaker("XX镇", "place"),  # 「在镇党委…领导下」, 「XX镇乡村振兴工作站」
    "003_222c8e348102ca24-r02": Speaker("颍东区", "place"),  # 文旅, 颍东区 8× (颍东 14×), 阜阳市 2×
}


def test_bundled_reports_speakers(real_corpus):
    speakers = speakers_of(real_corpus)
    without = {r.id: speakers.get(r.id) for r in real_corpus.reports if not r.issuing_body}
    for rid, got in without.items():
        print(rid, real_corpus.get(rid).title, "->", got)
    assert without == BUNDLED_WITHOUT_BODY
    assert all(speakers[r.id].name == r.issuing_body for r in real_corpus.reports if r.issuing_body)


def test_second_corpus_speakers_from_the_text_alone():
    """Court judgments and hospital records: every one has its body from its title or file name; read
    from the text alone (body, level and title line withheld), a speaker is the body or its city, never
    another body (the prosecutor, the patient's address)."""
    if not SECOND_CORPUS.is_dir():
        pytest.skip(f"second corpus not at {SECOND_CORPUS}")
    corpus = load_corpus(SECOND_CORPUS)
    assert len(speakers_of(corpus)) == len(corpus.reports)
    found = {"header": 0, "place": 0}
    for r in corpus.reports:
        lines = read_source(corpus.source_path(r)).lines
        bare = r.model_copy(update={"issuing_body": None, "issuing_body_source": None, "admin_level": None})
        got = speaker_of(bare, "\n".join(lines[r.title_line : r.line_end]))
        if got is not None:
            body = (r.issuing_body or "").strip("[]")
            assert got.name == body if got.source == "header" else got.name in body, (r.id, got)
            found[got.source] += 1
    print(found, "of", len(corpus.reports))
    assert found["header"] >= 20 and found["place"] >= 20
