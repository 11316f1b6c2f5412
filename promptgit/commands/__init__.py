"""One module per CLI command, each with one function: a project (and a store where needed) plus plain options in,
a frozen report out. cli.py parses arguments, calls that function, prints through display and maps the report to
an exit code; nothing here imports click or prints."""
