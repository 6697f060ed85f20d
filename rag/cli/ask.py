"""`rag ask "问题"`: a cited, checked answer from the command line."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("ask", help="answer a question with citations (or say the reports do not say)")
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print the Answer as JSON")
    p.add_argument("--mode", choices=["llm", "extractive"], default="llm",
                   help="llm (default): the local model writes, the checker keeps what the sources support; "
                   "extractive: quote the best sentences, no model")
    p.add_argument("--k", type=int, help="passages to retrieve before selecting evidence (1-50, default 8)")
    p.add_argument("--stream", action="store_true", help="print the model's draft as it is written (stderr)")
    p.set_defaults(func=_ask)


def _ask(args: argparse.Namespace) -> int:
    from rag.answering.service import validate_question
    from rag.app import open_answer_service
    from rag.config import Settings
    from rag.contracts import AnswerEvent, EvidenceEvent, RowEvent, TokenEvent
    from rag.errors import InvalidQuestion

    validate_question(args.question, ())  # fail fast, before loading models
    if args.k is not None and not 1 <= args.k <= 50:
        raise InvalidQuestion("--k must be between 1 and 50")
    service = open_answer_service(Settings(), with_llm=args.mode == "llm")
    service.warm_up()  # one-off model setup, so the timings below are the question's own
    answer = None
    for event in service.stream(args.question, mode=args.mode, k=args.k):
        if isinstance(event, EvidenceEvent) and args.stream:
            print(f"[{len(event.evidence)} passages in {event.retrieval_ms:.0f} ms]", file=sys.stderr)
        elif isinstance(event, TokenEvent) and args.stream:
            print(event.text, end="", file=sys.stderr, flush=True)
        elif isinstance(event, RowEvent) and args.stream:
            print(" | ".join(" ".join(c.text.split())[:30] for c in event.row), file=sys.stderr, flush=True)
        elif isinstance(event, AnswerEvent):
            answer = event.answer
    assert answer is not None
    if args.stream:
        print(file=sys.stderr)
    if args.json:
        print(answer.model_dump_json(indent=2))
        return 0
    if answer.table is not None:
        from rag.answering.tables import aligned

        # the text is 「共有N份报告…：」 then the same table as Markdown; a terminal gets aligned columns
        print(answer.answer.split("\n\n", 1)[0])
        print()
        print(aligned(answer.table))
    else:
        print(answer.answer)
    if answer.citations:
        print("\n来源：" if not answer.refused else "")
        for c in answer.citations:
            span = f"{c.line_start}" if c.line_start == c.line_end else f"{c.line_start}-{c.line_end}"
            lines = f"第{span}行"
            print(f"[{c.n}] 《{c.report_title}》 {' › '.join(c.section_path)}（{c.source_file} {lines}）")
            print(f"    「{' '.join(c.quote.split())}」")
    if answer.unsupported:
        print(f"\n（已删去 {len(answer.unsupported)} 句无出处支持的内容；--json 可查看）")
    t = answer.timings
    first = f"first token {t.first_token_ms:.0f} ms, " if t.first_token_ms else ""
    how = answer.mode + (f" · {answer.model}" if answer.model else "")
    how += f" · fallback: {answer.fallback}" if answer.fallback else ""
    print(f"\n[{how} · retrieval {t.retrieval_ms:.0f} ms, {first}total {t.total_ms:.0f} ms]", file=sys.stderr)
    return 0
