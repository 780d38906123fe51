"""Task-queue wiring and the nightly schedule; thin wrappers over pipeline and reports."""
