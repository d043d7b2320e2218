"""The one error the survival package raises for bad input: a list of problems, one per line."""


class SurvivalInputError(ValueError):
    """Bad input: each problem names the column, the row (1-based) and the value where known."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
