"""The printed and drawn documents of the on-time record: the scorecard of a commune's units
(`scorecard`) and the league table of a city's communes (`league`), as XLSX workbooks, PNG
charts and Markdown, in one house style (`house_style`). Pure functions of the use cases' data
(`usecases.scorecard.Scorecard`, `usecases.league.League`)."""
