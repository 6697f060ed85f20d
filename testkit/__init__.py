"""What tests/, bench/ and docs/ share: fakes of the protocols, a `rag serve` child process, a live uvicorn
server in a thread, headless Chromium, and the report texts of the library tests. Never imported by the
service itself (tests/test_architecture.py keeps it above rag.cli and below bench/ and docs/)."""
