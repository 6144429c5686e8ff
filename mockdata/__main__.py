from mockdata.cli import cli

cli(prog_name="python -m mockdata")
