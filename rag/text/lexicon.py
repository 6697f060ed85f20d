"""The words Chinese government texts are built from, named once: organ suffixes, periods, question words.

Each list says what it is for; a rule that needs one of them imports it from here.
"""

from __future__ import annotations

# -- periods ------------------------------------------------------------------------------------------

HALF_YEARS = ("上半年", "下半年")
QUARTER = r"第?[一二三四1-4]季度"
# The periods a report title or a question names, besides a year (「2023年上半年」「全年」「第三季度」).
PERIODS = rf"上半年|下半年|全年|{QUARTER}"

# -- places and levels --------------------------------------------------------------------------------

# The units a place's name ends in (「枫香塘村」「中华南路街道」「繁昌区」).
PLACE_UNITS = r"社区|街道|村|镇|乡|县|区|旗"
# The administrative levels a body's name may open with (「市医保局」「县水利局」).
LEVELS = "省市县区"

# -- names of bodies ----------------------------------------------------------------------------------

# What a body's name ends in, as report titles and openings name their author (rag/corpus/metadata.py).
ORG_SUFFIXES = (
    "管委会", "开发区", "高新区", "经开区", "园区", "工作队", "工作站", "集团", "公司", "政府", "系统",
    "机关", "中心", "学校", "街道", "社区", "局", "委", "办", "署", "厅", "院", "社", "所", "站", "科",
    "处", "队", "校", "园", "镇", "乡", "村", "县", "区", "市", "州", "盟", "旗",
)  # fmt: skip
# Suffixes that mark a separate organisation; a topic after the body (「法治政府建设」) has none of them.
STRONG_ORG_SUFFIXES = r"局|委|办|署|厅|中心|学校|院|社|所|站|科|处|队"
# What a body named in a question ends in (rag/text/question.py).
QUESTION_BODY_SUFFIXES = (r"委员会|办公室|人民政府|政府|分局|总局|局|委|厅|办|署|中心|学校|学院|"
                          r"医院|法院|检察院|保健院|社|站|所|街道|镇|乡|村|部门|园区|开发区|经开区|高新区")

# Kinds of document a title may be no more than (「刑事判决书」「住院病历」): what a title names after its
# author, never an author itself (rag/corpus/metadata.py).
DOCUMENT_KINDS = (
    "刑事判决书", "民事判决书", "行政判决书", "判决书", "裁定书", "调解书", "起诉书", "住院病历", "门诊病历",
    "病历", "病案", "入院记录", "出院记录", "年度报告", "年报",
)  # fmt: skip
# Words by which a document names its own author instead of writing it out (「本院认为」「公司的排放量」
# 「我局」): read as the body that issued the report.
# A bare 「公司」 counts only where a clause starts with it (「…，公司的排放量为…」), not inside a name.
SELF_REFERENCES = (r"[本该我](?:院|公司|局|委|办|厅|镇|乡|县|区|市|单位|中心|医院)"
                   r"|(?:^|(?<=[，。；：、,.;:\s]))(?:公司|集团|医院)")

# What a question across reports counts (「哪些单位」「哪几份判决书」「哪些患者」, rag/answering/plan.py):
# bodies; documents; or the person a document is about (a judgment's defendant, a record's patient: one
# per report, so a row per report as for documents).
ACROSS_BODIES = r"单位|部门|机构|地方|地区|区县|县区|县市区|乡镇|镇街|街道|社区|村|县|区|镇|乡|局|委|办|中心"
# Organisations that a report may also list inside itself (「医化集团打算合资成立哪几家公司」): across
# reports only when the question names no body of its own.
ACROSS_ORGANISATIONS = r"法院|检察院|医院|学校|公司|企业"
ACROSS_DOCUMENTS = r"报告|材料|总结|计划|文件|判决书|裁定书|判决|文书|病历|病案|案件|案子"
ACROSS_PERSONS = r"患者|病人|被告人|当事人"

# Words that deny what follows in their clause: 「无高血压病史」「否定贫血」「并无对青霉素过敏」. Not the
# words that only look so: 未来, 无为 (a city), 无人机, 无缝, 排除隐患 (removing, not denying), 非遗.
NEGATIONS = (r"并无|未见|未发现|否认|否定|已排除|没有|不伴|不存在|并非|未(?!来|成年)|"
             r"无(?![为人缝锡论线偿纸害障菌机形限私])")

# The generic end of a colloquial name: 「城管部门」「民政系统」 name an organ, not a unit called 部门.
GENERIC_TAILS = r"部门|单位|系统"

# -- questions ----------------------------------------------------------------------------------------

# Words that say what kind of answer is wanted, not what it is about (dropped before relevance).
QUESTION_WORDS = (r"多少|哪些|哪几|什么|怎么|怎样|如何|为什么|是否|有没有|是不是|情况|方面|工作|"
                  r"主要|具体|分别|请问|介绍|一下|有何|几个|几项|提到|材料|报告|总结|计划|开展|了吗|呢")

# -- details a question may ask for ---------------------------------------------------------------------

# A date or time a passage states: 「9月」「6月30日」「年底前」「上旬」「第三季度」.
DATE_EXPRESSION = (r"\d{1,2}\s*月(?:\s*\d{1,2}\s*日|底|初|中旬|上旬|下旬)?|[一二三四五六七八九十]{1,2}月|"
                   r"年底|年内|年前|月底|上旬|中旬|下旬|\d{4}\s*年|第?[一二三四1-4]季度|春节前|国庆前")
# A person named in a passage: 「局长张三」「李四同志」 (「主要负责同志」 is a role, not a name).
PERSON_NAME = (r"(?:书记|主任|局长|县长|市长|区长|镇长|乡长|校长|组长|林长|队长)"
               r"[\u4e00-\u9fff]{2,3}(?![\u4e00-\u9fff]*同志)|"
               r"(?<!负责)(?<!主要)(?![\u4e00-\u9fff]?(?:负责|主要))[\u4e00-\u9fff]{2,3}同志")
