"""Operations: structured logs with secrets redacted."""
