"""Code checks: answers run against tests in a sandbox, samples and pass@k, suites."""
