"""Host implementations of branchy.clef's externs: refine is the expensive path."""


def extractScore(volts: float) -> float:
    return volts / 2.0


def refine(score: float) -> float:
    return score + 0.125
