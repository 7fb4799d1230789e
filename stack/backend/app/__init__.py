"""Reference backend of the runbook's stack: health, metrics, documents, uploads, chat."""
