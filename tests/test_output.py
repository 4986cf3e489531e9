"""The one-line row summaries a sync prints."""

from pipelines.output import TABLES_SHOWN, rows_text


def test_rows_text_names_the_biggest_tables_and_every_set_aside_one():
    rows = {f"table_{n}": 100 + n for n in range(TABLES_SHOWN + 3)} | {"incomplete_events": 1}
    text = rows_text(rows)
    assert text.startswith(f"table_{TABLES_SHOWN + 2} {100 + TABLES_SHOWN + 2}")
    assert "incomplete_events 1" in text
    assert text.endswith(f"… and 3 more tables ({100 + 101 + 102:,} rows)")


def test_errors_and_warnings_print_square_brackets_as_written(capsys):
    from pipelines.output import Output

    printer = Output()
    printer.error("raise [transform] max_row_drop; the vendor said [bold]no[/bold]")
    printer.warn("see [sources.mobilize]")
    said = capsys.readouterr().err
    assert "raise [transform] max_row_drop; the vendor said [bold]no[/bold]" in said
    assert "see [sources.mobilize]" in said
