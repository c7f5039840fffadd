"""The dashboard (Textual). Nothing outside this package imports Textual."""
