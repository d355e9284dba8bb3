"""The ingest stages, one module each, in the order a run takes them: poll, fetch, extract,
dedupe, analyse, gate, finish; then the ledger. ``runs`` holds what they share: the stage's
pipeline_run row, the lease rule, batches in worker processes. :mod:`pipeline.flow` is what DAG
task bodies and the CLI call."""
