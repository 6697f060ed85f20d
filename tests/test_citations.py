"""The citation checker: sentences are split with their markers, numbers are exact, paraphrases pass,
inventions fail, wrong or missing markers are repaired, and the threshold separates a labelled set."""

from __future__ import annotations

import pytest

from rag.answering.verify import (
    DEFAULT_THRESHOLD,
    AnswerCheck,
    SentenceCheck,
    check_answer,
    check_sentence,
    extract_numbers,
    number_supported,
    parse_markers,
    split_sentences,
    support_score,
)

# Evidence passages in the corpus's style (most are real report text; placeholders D/AAA/XX as in the source).
E_GONGMU = ("二是进一步有序推进殡葬改革。按照上级殡葬改革政策要求有步骤有重点地推进殡葬改革。"
            "在今年年底前，完成第一批8个镇的公益性公墓升级改造，持续推进农村公益性公墓建设进度。")
E_DEBT = ("三、防风险，力争实现创绿清零。服务打好“发展六仗”战略部署，以黄茶岭镇街棚户区改造项目为切入点，"
          "充分利用“保交楼”专项借款及纾困基金政策夯实项目基础，拓宽化债来源，"
          "尽全力在今年实现隐性债务“创绿清零”，争取1.5亿元一般债券奖励，为下半年项目发展做好谋划。")
E_DIGITAL = ("（三）加快数字乡村建设。建立健全数字乡村建设项目规范管理方式，加快项目实施及进度，"
             "尽快完成深化设计方案。年底完成枫香塘村、选场村、鸡岩村3个行政村数字乡村建设，"
             "建成数字乡村公共视频联网平台。")
E_PARKING = ("4、便民停车场。2023年计划建设公共停车泊位650个以上。今年实施了肿瘤医院地下停车场、"
             "体育中心停车场、荣信公馆西侧停车场、城区道路划线停车位等4个项目。"
             "目前上述四项目均已建设完成，累计新增车位2924个，超额完成任务。")
E_DJ = ("2.着力提升非公D建。2023年以来投入XX余万元，在科创中心和富煌钢构打造了2个D群服务中心，"
        "9月份成立XX县装备制造产业链D委。为打造园区专业化人才队伍，开办了“园区大讲堂”，"
        "目前已经开展了9期。9月20日，省委常委、省委组织部部长吴浩到XX调研，"
        "对高新区非公D建工作给予了肯定。")
E_YIBAO = ("三是深化管D治D责任。将全面从严治D纳入中心工作和重要议事日程，严格履行D风廉政主体责任，"
           "3月23日召开全市医疗保障系统全面从严治D工作会议，重点部署了2023年全面从严治D工作。"
           "切实履行“一岗双责”，多种形式开展警示教育，4月21日赴瑶里和浮梁古县衙开展“筑防线守初心”"
           "廉政教育主题D日活动。6月19日开展2023年度政治谈话工作，采用集体谈话的方式，点出具体问题、"
           "明确整改措施。")
E_EXPERT = ("四是储备专家资源，筹备迎检工作。组建了XX镇市医保基金监管专家库，入库专家413人。"
            "为迎接2023年省级飞检，组织12家二级以上备检单位开展自查自纠培训、数据收集、"
            "模拟测试等备检相关工作。")
E_GREEN = ("（五）助力中心城区添绿。2023年园林绿化和修缮项目已完成施工图设计，正按程序进行招标前期工作；"
           "新增口袋公园2个，分别为农文化园和临河园，不断提升群众获得感、幸福感；实施城市绿化提升工程，"
           "完成财政局等5家单位、碧桂园天悦等9家住宅小区围墙绿化；开展住宅小区毁绿损绿检查59次，"
           "发现问题29处。")
E_GARBAGE = ("（六）改善城乡人居环境。委托物业实施无城城区小区垃圾分类工作；"
             "不断推动农村生活垃圾分类工作，完成20个镇机关、镇直事业单位、"
             "居民小区以及美丽乡村垃圾分类设备设施采购和安装工作；5月底召开考核调度会，"
             "对在季度考核排名靠后的53个村（社区），"
             "市农治办负责人约谈了镇分管负责人和村（社区）主要负责人。"
             "2022年1-6月份全市城乡共清理生活垃圾8万余吨，无害化处理率达100%。")
E_DRUG = ("三是全面执行《国家基本医疗保险、工伤保险和生育保险药品目录(2022年)》。"
          "国家新版药品目录收载西药和中成药共2967种，其中:西药1586种、中成药1381种，"
          "另有基金可支付的中药饮片892种。")
E_WECHAT = ("五是加大政策宣传力度。充分利用AAA公众号、AAA工作群及时推送医保政策，"
            "上半年累计发布政策解读文章36篇，组织“医保政策进社区”宣讲活动12场。")
E_DIP = ("一是全力推进我市DIP支付方式改革工作。成立了以分管副市长为组长的DIP付费改革领导小组，"
         "并组建了7个DIP付费改革工作专班，DIP项目已完成政府采购招标，DIP支付方式改革工作加快推进。")


# ------------------------------------------------------------------------------------------------------------
# split_sentences
# ------------------------------------------------------------------------------------------------------------


def test_markers_before_and_after_the_full_stop_stay_with_their_sentence():
    text = "完成第一批8个镇的公墓改造[1][2]。争取1.5亿元一般债券奖励。[2]建成视频联网平台【3】！还有问题吗？"
    assert split_sentences(text) == [
        "完成第一批8个镇的公墓改造[1][2]。",
        "争取1.5亿元一般债券奖励。[2]",
        "建成视频联网平台【3】！",
        "还有问题吗？",
    ]


def test_semicolons_newlines_and_list_items_split():
    text = "主要工作如下：\n1. 一是完成改造[1]；二是推进建设(来源2)。\n- 新增车位2924个［3］\n\n（一）推进"
    assert split_sentences(text) == [
        "主要工作如下：",
        "1. 一是完成改造[1]；",
        "二是推进建设(来源2)。",
        "- 新增车位2924个［3］",
        "（一）推进",
    ]


def test_marker_only_line_joins_the_sentence_before_and_empty_fragments_vanish():
    assert split_sentences("完成改造。\n[1][2]\n。。\n") == ["完成改造。[1][2]"]
    assert split_sentences("") == []


def test_a_semicolon_inside_a_marker_does_not_split_and_closing_quotes_stay():
    expected = ["完成改造[1；2]。", "他说：“已完成。”[3]", "好"]
    assert split_sentences("完成改造[1；2]。他说：“已完成。”[3]好") == expected


def test_decimal_points_do_not_split():
    assert split_sentences("争取1.5亿元奖励. 增长12.5%。") == ["争取1.5亿元奖励. 增长12.5%。"]


# ------------------------------------------------------------------------------------------------------------
# parse_markers
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sentence", "clean", "ids"),
    [
        ("完成改造[1]。", "完成改造。", [1]),
        ("完成改造。[1]", "完成改造。", [1]),
        ("完成改造[1][3]。", "完成改造。", [1, 3]),
        ("完成改造[2,3]。", "完成改造。", [2, 3]),
        ("完成改造[2， 3、5]。", "完成改造。", [2, 3, 5]),
        ("完成改造[1-3]。", "完成改造。", [1, 2, 3]),
        ("完成改造【1】【2】。", "完成改造。", [1, 2]),
        ("完成改造［１］。", "完成改造。", [1]),
        ("完成改造〔4〕。", "完成改造。", [4]),
        ("完成改造(来源1)。", "完成改造。", [1]),
        ("完成改造（来源：2）。", "完成改造。", [2]),
        ("完成改造（证据1、3）。", "完成改造。", [1, 3]),
        ("完成改造（见材料3）。", "完成改造。", [3]),
        ("完成改造[来源：材料1，材料3]。", "完成改造。", [1, 3]),
        ("完成改造[证据 2]。", "完成改造。", [2]),
        ("完成改造[^1]。", "完成改造。", [1]),
        ("完成改造 [source 2]。", "完成改造。", [2]),
        ("完成改造(1)。", "完成改造。", [1]),
        ("完成改造，来源：[2]", "完成改造，", [2]),
        ("完成改造[1][1]。", "完成改造。", [1]),
    ],
)
def test_marker_formats(sentence, clean, ids):
    assert parse_markers(sentence) == (clean, ids)


@pytest.mark.parametrize(
    "sentence",
    ["印发《实施方案》（市政办〔2023〕5号）。", "完成改造（2023年）。", "（1）完成改造。", "完成改造(1个)。",
     "开展“3·23”警示教育。"],
)
def test_text_that_only_looks_like_a_marker_is_kept(sentence):
    assert parse_markers(sentence) == (sentence, [])


# ------------------------------------------------------------------------------------------------------------
# extract_numbers / number_supported
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("完成第一批8个镇的公益性公墓升级改造", ["1批", "8个"]),
        ("争取1.5亿元一般债券奖励", ["1.5亿元"]),
        ("累计新增车位2924个", ["2924个"]),
        ("累计新增车位2,924个", ["2924个"]),
        ("完成８个镇、１２．５％的增长", ["8个", "12.5%"]),
        ("无害化处理率达100%，增长百分之十二", ["100%", "12%"]),
        ("提高2.5个百分点", ["2.5个百分点"]),
        ("完成枫香塘村、选场村、鸡岩村三个行政村", ["3个"]),
        ("新建公厕两座，制定二十三项措施", ["2座", "23项"]),
        ("2023年下半年召开", ["2023年下半年"]),
        ("2023年7月召开", ["2023年", "7月"]),
        ("7月15日召开，4月21日赴瑶里", ["7月15日", "4月21日"]),
        ("发布于2023-07-15", ["2023年", "7月15日"]),
        ("第一季度完成", ["第1季度"]),
        ("2022年1-6月份清理生活垃圾8万余吨", ["2022年", "1月", "6月", "8万吨"]),
        ("《2023-2025年工作实施方案》", ["2023年", "2025年"]),
        ("核实违规问题350余万元", ["350万元"]),
        ("入库专家413名", ["413人"]),
        ("建成5G基站20个", ["5G", "20个"]),
        ("1. 完成3个村", ["3个"]),
        ("（一）完成3个村", ["3个"]),
        ("2、2022年度完成", ["2022年"]),
        ("完成改造[12]。", []),
        ("当前及今后一个时期，走进千家万户，十四五期间", []),
        ("玄武市第一人民医院收治三人", ["3人"]),  # 第一人民医院 is a name, not one person
        ("累计发现问题XX个", []),
    ],
)
def test_extract_numbers(text, numbers):
    assert extract_numbers(text) == numbers


def test_every_extracted_number_is_found_in_its_own_text():
    for text in (E_GONGMU, E_DEBT, E_PARKING, E_YIBAO, E_GARBAGE, E_DRUG, E_EXPERT):
        numbers = extract_numbers(text)
        assert numbers
        assert all(number_supported(n, text) for n in numbers), text


@pytest.mark.parametrize(
    ("num", "evidence", "expected"),
    [
        ("1.5亿元", "争取1.5亿元一般债券奖励", True),
        ("1.5亿元", "争取15亿元一般债券奖励", False),
        ("15亿元", "争取1.5亿元一般债券奖励", False),
        ("1.5亿元", "争取15000万元一般债券奖励", True),  # same value, other magnitude
        ("8个", "完成第一批8个镇", True),
        ("8个", "完成第一批18个镇", False),
        ("8个", "完成第一批8个镇的18个村", True),
        ("18个", "完成第一批8个镇", False),
        ("8个", "完成8家单位", False),  # the unit must match when the claim has one
        ("8", "完成8家单位", True),
        ("8", "清理8万吨", False),  # 8万 is 80000
        ("8个", "完成８个镇", True),
        ("3个", "三个行政村", True),
        ("12%", "增长百分之十二", True),
        ("2.5%", "增长12.5%", False),
        ("12.5%", "增长12.5%", True),
        ("150件", "暂扣物品150余件", True),
        ("413人", "入库专家413名", True),
        ("2023年下半年", "2023年上半年工作总结和下半年工作安排", True),
        ("2023年下半年", "2023年上半年工作总结", False),
        ("7月15日", "7月15日召开", True),
        ("7月15日", "7月5日召开，15日结束", False),
        ("7月", "7月15日召开", True),
        ("6月", "2022年1-6月份", True),
        ("2025年", "2023-2025年工作实施方案", True),
        ("2024年", "2023-2025年工作实施方案", False),
        ("5G", "建成5G基站", True),
        ("3·23", "开展“3·23”警示教育", True),
    ],
)
def test_number_supported_is_exact(num, evidence, expected):
    assert number_supported(num, evidence) is expected


# ------------------------------------------------------------------------------------------------------------
# support_score
# ------------------------------------------------------------------------------------------------------------


def test_support_of_paraphrases_is_high():
    # reordered, 将→要, connectives added and dropped
    assert support_score("今年年底前要完成第一批8个镇公益性公墓的升级改造。", E_GONGMU) >= 0.9
    assert support_score("同时持续推进农村公益性公墓建设。", E_GONGMU) == 1.0
    # the model may write 党建 for D建 and 微信 for AAA, or the placeholders
    assert support_score("在科创中心和富煌钢构打造了2个党群服务中心。", E_DJ) == 1.0
    assert support_score("对高新区非公D建工作给予了肯定", "对高新区非公党建工作给予了肯定") == 1.0
    assert support_score("通过微信公众号和微信工作群及时推送医保政策。", E_WECHAT) == 1.0
    # numbers are checked on their own, so moving them does not cost support
    assert support_score("413名专家入库。", E_EXPERT) == 1.0


def test_support_of_inventions_sharing_topic_words_is_low():
    assert support_score("全县农村公益性公墓已全部完成升级改造并通过验收。", E_GONGMU) < DEFAULT_THRESHOLD
    assert support_score("殡葬改革进展顺利，群众满意度明显提升。", E_GONGMU) < 0.5
    assert support_score("4月21日组织党员干部赴井冈山开展革命传统教育。", E_YIBAO) < 0.5


def test_support_is_a_share_and_ignores_markers_and_list_numbering():
    s = support_score("1. 今年年底前完成第一批8个镇的公益性公墓升级改造[1]。", E_GONGMU)
    assert s == support_score("今年年底前完成第一批8个镇的公益性公墓升级改造。", E_GONGMU) == 1.0
    assert support_score("完全无关的句子内容", E_GONGMU) == 0.0
    assert support_score("。[1]", E_GONGMU) == 0.0
    assert 0.0 < support_score("完成升级改造和绿化提升", E_GONGMU) < 1.0


# ------------------------------------------------------------------------------------------------------------
# check_sentence
# ------------------------------------------------------------------------------------------------------------

EVIDENCE = {1: E_GONGMU, 2: E_DEBT, 3: E_PARKING, 4: E_YIBAO}


def test_a_correctly_cited_sentence_is_supported_unchanged():
    c = check_sentence("今年年底前要完成第一批8个镇公益性公墓的升级改造[1]。", None, EVIDENCE)
    assert c.supported and c.kept and c.numbers_ok and not c.repaired
    assert c.text == "今年年底前要完成第一批8个镇公益性公墓的升级改造。"
    assert c.markers == [1] and c.final_markers == [1] and c.repaired_markers == []
    assert c.support >= DEFAULT_THRESHOLD
    assert c.rendered == "今年年底前要完成第一批8个镇公益性公墓的升级改造。[1]"


def test_the_cited_argument_is_what_is_checked():
    sentence = "争取1.5亿元一般债券奖励[1]。"
    assert check_sentence(sentence, {1: E_DEBT}, {1: E_DEBT}).supported
    c = check_sentence(sentence, {1: E_GONGMU}, {1: E_GONGMU})
    assert not c.supported and c.missing_numbers == ["1.5亿元"]


def test_a_missing_marker_is_repaired():
    c = check_sentence("争取1.5亿元一般债券奖励。", None, EVIDENCE)
    assert c.supported and c.repaired
    assert c.markers == [] and c.repaired_markers == [2] and c.final_markers == [2]
    assert "no marker" in c.reason
    assert c.rendered == "争取1.5亿元一般债券奖励。[2]"


def test_a_wrong_marker_is_repaired():
    c = check_sentence("累计新增车位2924个，超额完成任务[1]。", None, EVIDENCE)
    assert c.supported and c.repaired
    assert c.markers == [1] and c.final_markers == [3]
    assert "cited [1] fails" in c.reason and "re-aligned to [3]" in c.reason


def test_an_unknown_marker_is_repaired():
    c = check_sentence("累计新增车位2924个[9]。", None, EVIDENCE)
    assert c.supported and c.final_markers == [3] and "unknown [9]" in c.reason


def test_a_sentence_joining_two_passages_is_aligned_to_both():
    sentence = "今年年底前完成第一批8个镇的公益性公墓升级改造，并争取1.5亿元一般债券奖励[1]。"
    c = check_sentence(sentence, None, EVIDENCE)
    assert c.supported and c.final_markers == [1, 2]


def test_a_number_found_only_in_a_second_passage_brings_it_in():
    evidence = {1: "今年年底前完成第一批乡镇的公益性公墓升级改造。", 2: "第一批共8个镇。", 3: "无关内容。"}
    c = check_sentence("今年年底前完成第一批8个镇的公益性公墓升级改造[1]。", None, evidence)
    assert c.supported and c.final_markers == [1, 2]
    assert "numbers not in evidence: 8个" in c.reason


def test_cited_passages_that_add_nothing_are_pruned():
    c = check_sentence("争取1.5亿元一般债券奖励[1][2][3]。", None, EVIDENCE)
    assert c.supported and c.final_markers == [2] and c.repaired
    c = check_sentence("争取1.5亿元一般债券奖励[2][9]。", None, EVIDENCE)
    assert c.supported and c.final_markers == [2] and "unknown markers [9]" in c.reason


def test_an_invention_is_not_supported_even_with_a_plausible_marker():
    c = check_sentence("全县殡葬服务满意度达到98%[1]。", None, EVIDENCE)
    assert not c.supported and not c.kept and c.final_markers == []
    assert c.missing_numbers == ["98%"] and not c.numbers_ok
    assert c.reason.startswith("unsupported")


def test_a_wrong_number_fails_although_every_word_matches():
    c = check_sentence("今年年底前完成第一批18个镇的公益性公墓升级改造[1]。", None, EVIDENCE)
    assert not c.supported and c.support == 1.0 and c.missing_numbers == ["18个"]
    c = check_sentence("争取15亿元一般债券奖励[2]。", None, EVIDENCE)
    assert not c.supported and c.missing_numbers == ["15亿元"]


def test_a_fact_moved_to_another_body_fails():
    c = check_sentence("3月23日市城管局召开全面从严治党工作会议[4]。", None, EVIDENCE)
    assert not c.supported and c.missing_names == ["管局"] and not c.names_ok
    c = check_sentence("年底完成枫香塘村、大坝村、鸡岩村3个行政村数字乡村建设。", None, {1: E_DIGITAL})
    assert not c.supported and c.missing_names == ["坝村"]
    c = check_sentence("年底完成枫香塘村、选场村、鸡岩村3个行政村数字乡村建设。", None, {1: E_DIGITAL})
    assert c.supported


def test_without_evidence_nothing_is_supported():
    c = check_sentence("完成改造[1]。", None, {})
    assert not c.supported and not c.kept and "no evidence" in c.reason


@pytest.mark.parametrize(
    "sentence",
    [
        "材料中未提及2024年的具体安排。",
        "报告未提到公墓建设的资金来源[1]。",
        "所给资料没有涉及该镇的人口数据。",
        "无法根据现有材料确定具体金额。",
        "没有相关的数据记载。",
    ],
)
def test_refusals_are_kept_without_citation(sentence):
    c = check_sentence(sentence, None, EVIDENCE)
    assert c.is_refusal and c.kept and not c.supported and c.final_markers == []
    assert "[" not in c.rendered


@pytest.mark.parametrize(
    "sentence",
    [
        "关于2024年的安排，材料中未提及。",
        "根据材料，未提及具体金额，无法回答。",
        "检索结果中没有找到相关信息。",
        "材料中没有提到2024年的计划，也未提及具体金额。",
    ],
)
def test_refusals_spread_over_clauses(sentence):
    assert check_sentence(sentence, None, EVIDENCE).is_refusal


@pytest.mark.parametrize(
    "sentence",
    ["专项检查中未查到违规问题[1]。", "报告期内未明确整改时限[1]。", "市政府文件未明确补助标准[1]。"],
)
def test_negative_claims_are_not_refusals(sentence):
    c = check_sentence(sentence, None, EVIDENCE)
    assert not c.is_refusal and not c.kept


def test_a_refusal_followed_by_a_claim_checks_the_claim():
    c = check_sentence("报告未提到具体金额，但争取1.5亿元一般债券奖励[2]。", None, EVIDENCE)
    assert not c.is_refusal and c.supported and c.final_markers == [2]
    c = check_sentence("报告未提到具体金额，但已全部到位[2]。", None, EVIDENCE)
    assert not c.is_refusal and not c.supported
    c = check_sentence("材料未提及具体数字，全县完成改造100个。", None, EVIDENCE)  # no 「但」 needed
    assert not c.is_refusal and not c.kept


def test_connectives_need_no_citation_but_claims_do():
    for lead in ("具体如下：", "主要包括：", "根据材料，主要工作如下："):
        c = check_sentence(lead, None, EVIDENCE)
        assert c.is_connective and c.kept and c.final_markers == []
    assert not check_sentence("共有3项：", None, EVIDENCE).is_connective  # states a number
    assert not check_sentence("完成改造。", None, EVIDENCE).is_connective  # a claim, however short


# ------------------------------------------------------------------------------------------------------------
# check_answer
# ------------------------------------------------------------------------------------------------------------


def test_check_answer_end_to_end():
    answer = (
        "根据材料，主要工作如下：\n"
        "1. 今年年底前要完成第一批8个镇公益性公墓的升级改造[1]。\n"
        "2. 争取1.5亿元一般债券奖励。[1]\n"  # wrong marker: this is passage 2
        "3. 全县殡葬服务满意度达到98%[1]。\n"  # invented
        "4. 3月23日召开了全市医疗保障系统全面从严治D工作会议\n"  # no marker
        "材料中未提及2024年的具体安排。"
    )
    result = check_answer(answer, EVIDENCE)
    assert isinstance(result, AnswerCheck) and result.threshold == DEFAULT_THRESHOLD
    assert [s.kept for s in result.sentences] == [True, True, True, False, True, True]

    (dropped,) = result.dropped
    assert dropped.text == "3. 全县殡葬服务满意度达到98%。" and dropped.missing_numbers == ["98%"]

    wrong = result.sentences[2]
    assert wrong.repaired and wrong.markers == [1] and wrong.final_markers == [2]

    assert result.text == (
        "根据材料，主要工作如下：\n"
        "1. 今年年底前要完成第一批8个镇公益性公墓的升级改造。[1]\n"
        "2. 争取1.5亿元一般债券奖励。[2]\n"
        "4. 3月23日召开了全市医疗保障系统全面从严治D工作会议[4]\n"
        "材料中未提及2024年的具体安排。"
    )
    assert result.counts == {"sentences": 6, "kept": 5, "dropped": 1, "supported": 3, "repaired": 2,
                             "refusals": 1, "connectives": 1}
    assert result.used_evidence == [1, 2, 4]


def test_sentences_of_one_line_are_rendered_together():
    result = check_answer("争取1.5亿元一般债券奖励[2]。全县满意度达98%[1]。累计新增车位2924个[3]。", EVIDENCE)
    assert result.text == "争取1.5亿元一般债券奖励。[2]累计新增车位2924个。[3]"


def test_a_connective_that_introduces_nothing_kept_is_dropped():
    result = check_answer("具体如下：\n1. 全县殡葬服务满意度达到98%[1]。", EVIDENCE)
    assert result.text == "" and result.counts["kept"] == 0
    assert "introduces no kept sentence" in result.sentences[0].reason


def test_an_empty_answer_checks_to_nothing():
    result = check_answer("", EVIDENCE)
    assert result.sentences == [] and result.text == "" and result.counts["sentences"] == 0


def test_results_serialise_for_the_api():
    dumped = check_answer("争取1.5亿元一般债券奖励。", EVIDENCE).model_dump()
    assert dumped["text"] == "争取1.5亿元一般债券奖励。[2]"
    assert dumped["sentences"][0]["rendered"] == "争取1.5亿元一般债券奖励。[2]"
    assert SentenceCheck.model_validate(dumped["sentences"][0]).final_markers == [2]


# ------------------------------------------------------------------------------------------------------------
# The threshold, on a labelled set
# ------------------------------------------------------------------------------------------------------------

# (sentence, evidence, kind). kind "paraphrase" must be supported; the others must not:
#   invented  — adds facts to the passage's topic words: support_score must fall below the threshold;
#   number    — a number differs: caught by the number check (missing_numbers);
#   name      — a body or place differs: caught by the name anchors (missing_names);
#   lexical   — a single name or two numbers swapped, a plan told as done, a role changed: invisible to any
#               lexical measure; counted in the accuracy, no per-case promise (known limitation).
LABELLED = [
    ("今年年底前要完成第一批8个镇公益性公墓的升级改造。", E_GONGMU, "paraphrase"),
    ("按照上级政策要求，有步骤、有重点地推进殡葬改革。", E_GONGMU, "paraphrase"),
    ("同时持续推进农村公益性公墓建设。", E_GONGMU, "paraphrase"),
    ("完成第一批８个镇的公益性公墓升级改造。", E_GONGMU, "paraphrase"),
    ("殡葬改革方面，今年底前第一批8个镇的公益性公墓将完成升级改造。", E_GONGMU, "paraphrase"),
    ("在殡葬改革上，年底前会完成8个镇的公墓升级改造。", E_GONGMU, "paraphrase"),
    ("力争今年实现隐性债务“创绿清零”，并争取1.5亿元一般债券奖励。", E_DEBT, "paraphrase"),
    ("以黄茶岭镇街棚户区改造项目为切入点，进一步拓宽化债来源。", E_DEBT, "paraphrase"),
    ("年底将完成枫香塘村、选场村、鸡岩村等3个行政村的数字乡村建设。", E_DIGITAL, "paraphrase"),
    ("年底完成枫香塘村、选场村和鸡岩村三个行政村的数字乡村建设。", E_DIGITAL, "paraphrase"),
    ("要建成数字乡村公共视频联网平台。", E_DIGITAL, "paraphrase"),
    ("今年累计新增车位2924个，超额完成了任务。", E_PARKING, "paraphrase"),
    ("2023年计划建设公共停车泊位650个以上。", E_PARKING, "paraphrase"),
    ("肿瘤医院地下停车场、体育中心停车场等4个项目均已建设完成。", E_PARKING, "paraphrase"),
    ("今年共实施肿瘤医院地下停车场等4个停车场项目，新增车位2924个。", E_PARKING, "paraphrase"),
    ("在科创中心和富煌钢构打造了2个党群服务中心。", E_DJ, "paraphrase"),
    ("“园区大讲堂”目前已开展9期。", E_DJ, "paraphrase"),
    ("9月份成立了XX县装备制造产业链党委。", E_DJ, "paraphrase"),
    ("非公党建工作得到了省委组织部部长吴浩的肯定。", E_DJ, "paraphrase"),
    ("高新区非公党建工作获得了省委组织部部长的肯定。", E_DJ, "paraphrase"),
    ("3月23日召开了全市医疗保障系统全面从严治党工作会议，部署2023年全面从严治党工作。", E_YIBAO,
     "paraphrase"),
    ("6月19日采用集体谈话的方式开展了2023年度政治谈话。", E_YIBAO, "paraphrase"),
    ("组建了医保基金监管专家库，入库专家413人。", E_EXPERT, "paraphrase"),
    ("医保部门组建了监管专家库，共有413名专家入库。", E_EXPERT, "paraphrase"),
    ("为迎接2023年省级飞检，组织12家二级以上备检单位开展自查自纠培训、数据收集和模拟测试。", E_EXPERT,
     "paraphrase"),
    ("为迎接省级飞检，12家二级以上单位开展了自查自纠等备检工作。", E_EXPERT, "paraphrase"),
    ("新增农文化园和临河园2个口袋公园。", E_GREEN, "paraphrase"),
    ("开展住宅小区毁绿损绿检查59次，发现问题29处。", E_GREEN, "paraphrase"),
    ("2022年1-6月全市城乡共清理生活垃圾8万余吨，无害化处理率达到100%。", E_GARBAGE, "paraphrase"),
    ("对季度考核排名靠后的53个村（社区），市农治办约谈了其主要负责人。", E_GARBAGE, "paraphrase"),
    ("新版国家药品目录共收载西药和中成药2967种，其中西药1586种，中成药1381种。", E_DRUG, "paraphrase"),
    ("通过微信公众号和微信工作群及时推送医保政策。", E_WECHAT, "paraphrase"),
    ("上半年累计发布政策解读文章36篇。", E_WECHAT, "paraphrase"),
    ("上半年通过微信公众号发布了36篇政策解读文章。", E_WECHAT, "paraphrase"),
    ("利用微信公众号和工作群推送医保政策，并开展了12场“医保政策进社区”宣讲活动。", E_WECHAT, "paraphrase"),
    ("组建了7个DIP付费改革工作专班，DIP项目已完成政府采购招标。", E_DIP, "paraphrase"),
    ("要进一步加快推进DIP支付方式改革。", E_DIP, "paraphrase"),
    ("DIP项目的政府采购招标已经完成。", E_DIP, "paraphrase"),
    ("我市正加快推进DIP支付方式改革，成立了DIP付费改革领导小组。", E_DIP, "paraphrase"),
    ("全县农村公益性公墓已全部完成升级改造并通过验收。", E_GONGMU, "invented"),
    ("殡葬改革推进中共新建公益性骨灰堂5座。", E_GONGMU, "invented"),
    ("殡葬改革进展顺利，群众满意度明显提升。", E_GONGMU, "invented"),
    ("在殡葬改革上，年底前会完成8个镇的殡仪馆改造。", E_GONGMU, "invented"),
    ("累计新增车位2924个，超额完成任务。", E_GONGMU, "invented"),  # true, but not of this passage
    ("今年已化解隐性债务30亿元，债务风险总体可控。", E_DEBT, "invented"),
    ("黄茶岭镇街棚户区改造项目已全面完工，居民全部回迁。", E_DEBT, "invented"),
    ("全县所有行政村已实现数字乡村建设全覆盖。", E_DIGITAL, "invented"),
    ("新建的停车场全部实行免费停车，有效缓解了停车难问题。", E_PARKING, "invented"),
    ("停车场建设由城管局负责实施。", E_PARKING, "invented"),
    ("9月份成立了XX县新能源汽车产业链党委。", E_DJ, "invented"),
    ("省委组织部对高新区非公党建工作进行了通报表扬，并授予先进集体称号。", E_DJ, "invented"),
    ("园区大讲堂邀请省内知名专家授课9期。", E_DJ, "invented"),
    ("4月21日组织党员干部赴井冈山开展革命传统教育。", E_YIBAO, "invented"),
    ("专家库成员均具有副高级以上职称，覆盖临床、药学、财务等领域。", E_EXPERT, "invented"),
    ("专家库每季度开展一次业务培训。", E_EXPERT, "invented"),
    ("全市生活垃圾分类覆盖率达到100%。", E_GARBAGE, "invented"),
    ("上半年微信公众号阅读量突破100万人次。", E_WECHAT, "invented"),
    ("DIP支付方式改革已在全市所有定点医院全面实施。", E_DIP, "invented"),
    ("今年年底前完成第一批18个镇的公益性公墓升级改造。", E_GONGMU, "number"),
    ("争取15亿元一般债券奖励。", E_DEBT, "number"),
    ("累计新增车位2942个。", E_PARKING, "number"),
    ("肿瘤医院地下停车场建设投资2000万元。", E_PARKING, "number"),
    ("4月23日召开全市医疗保障系统全面从严治党工作会议。", E_YIBAO, "number"),
    ("入库专家431人。", E_EXPERT, "number"),
    ("组织12家三级医院开展自查自纠培训。", E_EXPERT, "number"),
    ("开展住宅小区毁绿损绿检查29次，发现问题59处。", E_GREEN, "number"),
    ("年底完成枫香塘村、大坝村、鸡岩村3个行政村数字乡村建设。", E_DIGITAL, "name"),
    ("3月23日市城管局召开全面从严治党工作会议。", E_YIBAO, "name"),
    ("市卫健委组建了7个DIP付费改革工作专班。", E_DIP, "name"),
    ("今年年底前完成全部镇的公益性公墓升级改造。", E_GONGMU, "lexical"),
    ("全市新增公共停车泊位650个。", E_PARKING, "lexical"),
    ("新增口袋公园2个，分别为农文化园和滨河公园。", E_GREEN, "lexical"),
    ("其中西药1381种、中成药1586种。", E_DRUG, "lexical"),
    ("DIP付费改革领导小组由市长任组长。", E_DIP, "lexical"),
]


def _labelled_results(threshold: float = DEFAULT_THRESHOLD) -> list[tuple[str, str, float, SentenceCheck]]:
    out = []
    for sentence, evidence, kind in LABELLED:
        check = check_sentence(sentence, {1: evidence}, {1: evidence}, threshold)
        out.append((sentence, kind, support_score(sentence, evidence), check))
    return out


def _accuracy(results) -> float:
    return sum(c.supported == (kind == "paraphrase") for _, kind, _, c in results) / len(results)


def test_labelled_set_is_large_and_balanced():
    kinds = [kind for _, _, kind in LABELLED]
    assert len(LABELLED) >= 30
    assert kinds.count("paraphrase") >= 15 and len(kinds) - kinds.count("paraphrase") >= 15


def test_threshold_separates_the_labelled_set():
    results = _labelled_results()
    by_kind: dict[str, list[float]] = {}
    for _, kind, score, _ in results:
        by_kind.setdefault(kind, []).append(score)
    accuracy = _accuracy(results)
    misses = [(kind, round(score, 2), s) for s, kind, score, c in results
              if c.supported != (kind == "paraphrase")]
    report = [f"threshold {DEFAULT_THRESHOLD}: accuracy {accuracy:.3f} on {len(results)} cases"]
    report += [f"  {kind:10} n={len(v):2}  support min {min(v):.2f}  max {max(v):.2f}"
               for kind, v in by_kind.items()]
    report += [f"  miss: {m}" for m in misses]
    print("\n".join(report))  # pytest -s shows the separation

    assert accuracy >= 0.9, report
    # the score alone separates paraphrases from inventions, with the threshold in the gap
    assert max(by_kind["invented"]) < DEFAULT_THRESHOLD <= min(by_kind["paraphrase"]), report
    for sentence, kind, score, c in results:
        if kind == "paraphrase":
            assert c.supported and c.final_markers == [1], (sentence, score, c.reason)
        elif kind == "invented":
            assert not c.supported and score < DEFAULT_THRESHOLD, (sentence, score)
        elif kind == "number":
            assert not c.supported and c.missing_numbers, sentence
        elif kind == "name":
            assert not c.supported and c.missing_names, sentence


def test_threshold_is_not_arbitrary():
    # much lower and inventions get through; much higher and paraphrases are lost
    assert _accuracy(_labelled_results(0.6)) < _accuracy(_labelled_results(DEFAULT_THRESHOLD))
    assert _accuracy(_labelled_results(0.95)) < _accuracy(_labelled_results(DEFAULT_THRESHOLD))


def test_bare_figures_and_repeats_are_not_shown():
    evidence = {1: "1-10月份，实现规上工业总产值同比增长6.3%，占全市规上工业总产值的48.2%。"}
    draft = "48.2%[1]\n规上工业总产值同比增长6.3%。[1]\n规上工业总产值同比增长6.3%。[1]\n2. 6.3%[1]"
    result = check_answer(draft, evidence)
    assert result.text == "规上工业总产值同比增长6.3%。[1]"
    reasons = [s.reason for s in result.sentences if not s.kept]
    assert reasons.count("a bare figure: does not say what it measures") == 2
    assert "repeats an earlier sentence" in reasons
