"""Black-box certification of uploaded apps: bundle intake, runtime image, isolation backends,
the test harness and the certification jobs (ARCHITECTURE.md §5). Imports only core, mockdata and
``govsuite``."""
