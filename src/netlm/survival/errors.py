"""The one error the survival package raises for bad input: a list of problems, one per line."""


class SurvivalInputError(ValueError):
    """Bad input: each problem names the column, the row (1-based) and the value where known."""

    def __init__(self, problems: list[str], skippable: bool = False) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
        self.skippable = skippable  # bad rows that skip_bad would leave out
