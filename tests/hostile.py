"""Hostile inputs, built in memory: .docx bombs and malformed .docx files, names a listing would show
wrongly. Shared by the fast regression tests and the slow real-server ones."""

from __future__ import annotations

import io
import zipfile

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.'
    'wordprocessingml.document.main+xml"/></Types>'
)
RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'officeDocument" Target="word/document.xml"/></Relationships>'
)


def paragraph(text: str) -> str:
    return f"<w:p><w:r><w:t xml:space=\"preserve\">{text}</w:t></w:r></w:p>"


def document_xml(body: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="{W}"><w:body>'
            f"{body}</w:body></w:document>").encode()


def docx(document: bytes, extra: dict[str, bytes] | None = None) -> bytes:
    """A .docx zip around the given word/document.xml bytes (deflated, as Word writes them)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", CONTENT_TYPES)
        z.writestr("_rels/.rels", RELS)
        z.writestr("word/document.xml", document)
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return out.getvalue()


def report_docx(lines: list[str]) -> bytes:
    return docx(document_xml("".join(paragraph(line) for line in lines)))


def bomb_docx(xml_mb: int = 40) -> bytes:
    """A small .docx whose document XML unpacks to ``xml_mb`` MB (one report title, then one paragraph
    repeated): the upload is a few tens of KB."""
    title = paragraph("县档案局2024年工作总结")
    repeated = paragraph("全年完成馆藏档案数字化扫描86万页。" * 20)
    count = xml_mb * 1_000_000 // len(repeated.encode())
    return docx(document_xml(title + repeated * count))


def text_bomb_docx(text_mb: int = 14) -> bytes:
    """A .docx that no ratio or XML check stops — varied text, little markup — but that holds ``text_mb``
    MB of text once extracted (a 69 KB .docx once became 13.6 MB of stored text)."""
    import random

    rng = random.Random(13)
    common = [chr(c) for c in range(0x4E00, 0x4E00 + 400)]  # compresses ~3×: under the upload limit
    lines = ["".join(rng.choices(common, k=3000))
             for _ in range(text_mb * 1_000_000 // 9000 + 1)]
    return docx(document_xml(paragraph("县档案局2024年工作总结") + "".join(map(paragraph, lines))))


def entities_docx() -> bytes:
    """Billion laughs: nested entities declared in a DTD."""
    dtd = ('<!DOCTYPE w:document [<!ENTITY a "ha"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
           '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>')
    xml = (f'<?xml version="1.0"?>{dtd}<w:document xmlns:w="{W}"><w:body>{paragraph("&d;")}</w:body>'
           "</w:document>").encode()
    return docx(xml)


def many_parts_docx(parts: int = 5000) -> bytes:
    media = {f"word/media/p{i}.bin": b"" for i in range(parts)}
    return docx(document_xml(paragraph("县档案局2024年工作总结")), media)


MALFORMED_DOCX = docx(b'<?xml version="1.0"?><w:document xmlns:w="' + W.encode() + b'"><w:body><w:p>')

# File names a listing would show wrongly, or that the disk cannot hold.
LONG_NAME = "县" * 84 + "工作总结.txt"  # 88 characters, 264 bytes in UTF-8: over ext4's 255-byte limit
RTL_NAME = "县档案局\u202eftd.exe\u202c工作总结.txt"  # shows as 「…exe.dtf…」
LINE_SEPARATOR_NAME = "县档案局\u2028工作总结.txt"
DEL_NAME = "县档案局\x7f工作总结.txt"
