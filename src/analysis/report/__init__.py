"""The paper in two languages, HTML and PDF, from the results files."""
