"""The command line: ``workbench`` and its headless subcommands (argv, printing, exit codes)."""
