"""Reports: figures, tables and the HTML report."""
