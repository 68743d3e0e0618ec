from fbocli.cli import entry

entry()
